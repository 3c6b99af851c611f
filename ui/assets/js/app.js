// The dashboard's pages, one per address after the '#': images, search,
// image, containers, container. Each page renders into <main> and returns
// what to stop when another page opens (event streams, sockets).
import { h, clear, api } from './dom.js';
import { imagesPage, imagePage } from './images.js';
import { searchPage } from './search.js';
import { containersPage, containerPage } from './containers.js';

const pages = {
  images: imagesPage,
  search: searchPage,
  image: imagePage,
  containers: containersPage,
  container: containerPage,
};

let stop = null;

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, query] = hash.split('?');
  const page = pages[name] ? name : 'images';
  const params = Object.fromEntries(new URLSearchParams(query || ''));
  if (stop) { try { stop(); } catch { /* already gone */ } stop = null; }
  const main = clear(document.getElementById('main'));
  for (const a of document.querySelectorAll('[data-nav]')) {
    const current = a.dataset.nav === page || (a.dataset.nav === 'images' && (page === 'image' || page === 'search'))
      || (a.dataset.nav === 'containers' && page === 'container');
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const input = document.getElementById('search-input');
  if (page === 'search') input.value = params.q || '';
  Promise.resolve(pages[page](main, params)).then((s) => { stop = s || null; }).catch((err) => {
    main.append(h('div', { class: 'alert', role: 'alert' }, err.message));
  });
}

document.getElementById('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = document.getElementById('search-input').value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});

window.addEventListener('hashchange', () => {
  route();
  document.getElementById('main').focus({ preventScroll: true });
});

api('GET', '/api/info').then((info) => {
  document.getElementById('foot').textContent = `berth ${info.version || ''} · hub ${info.hub}`
    + (info.terminal ? '' : ' · built without xterm.js: no terminal (make build adds it)');
}).catch(() => {});

route();
