// Search images to run: the hub's repositories with their badges, stars
// and descriptions, and Pull with live per-layer progress.
import { h, clear, api, size, link, badgeLabel, alertBox } from './dom.js';
import { openRunDialog } from './run.js';

function layerText(l) {
  if (l.total > 0 && l.status !== 'Pull complete' && l.status !== 'Download complete') return `${size(l.current)} / ${size(l.total)}`;
  return '';
}

// follow shows a pull's progress in box until it ends.
function follow(id, ref, box, button) {
  const rows = new Map();
  const list = h('ol', { 'aria-label': `Layers of ${ref}` });
  const messages = h('div', { class: 'messages', role: 'status' });
  clear(box).append(h('p', {}, `Pulling ${ref}…`), list, messages);
  const es = new EventSource(`/api/pulls/${encodeURIComponent(id)}/events`);
  es.addEventListener('layer', (ev) => {
    const l = JSON.parse(ev.data);
    let row = rows.get(l.id);
    if (!row) {
      row = { status: h('span', { class: 'status' }), bar: h('progress', { max: 1, value: 0, 'aria-label': `Layer ${l.id}` }), bytes: h('span', { class: 'muted' }) };
      rows.set(l.id, row);
      list.append(h('li', { class: 'layer', 'data-layer': l.id }, h('span', {}, h('code', {}, l.id), ' ', row.status), row.bar, row.bytes));
    }
    row.status.textContent = l.status;
    row.bytes.textContent = layerText(l);
    if (l.total > 0) { row.bar.max = l.total; row.bar.value = l.current; }
    if (l.status === 'Pull complete' || l.status === 'Already exists') { row.bar.max = 1; row.bar.value = 1; }
  });
  es.addEventListener('message', (ev) => { messages.append(h('div', {}, JSON.parse(ev.data).status)); });
  es.addEventListener('done', (ev) => {
    es.close();
    const r = JSON.parse(ev.data);
    box.append(alertBox(`Pulled ${r.ref}`, 'info', h('a', { href: link('images') }, 'Show in Images'),
      h('a', { href: link('image', { ref: r.ref }) }, 'Details'),
      h('button', { type: 'button', class: 'secondary', onclick: () => openRunDialog(r.ref) }, 'Run')));
    button.disabled = false;
    button.textContent = 'Pull';
  });
  es.addEventListener('error', (ev) => {
    es.close();
    box.append(alertBox(ev.data ? JSON.parse(ev.data).error : 'Lost the pull’s progress; see Images for its result.'));
    button.disabled = false;
    button.textContent = 'Pull';
  });
  return es;
}

export async function searchPage(main, params) {
  const q = (params.q || '').trim();
  const streams = [];
  main.append(h('h1', {}, q ? `Search images to run: “${q}”` : 'Search images to run'));
  if (!q) {
    main.append(h('p', { class: 'muted' }, 'Type a name in the search bar above.'));
    document.getElementById('search-input').focus();
    return null;
  }
  const status = h('p', { class: 'muted', role: 'status' }, 'Searching…');
  main.append(status);
  let data;
  try {
    data = await api('GET', `/api/search?q=${encodeURIComponent(q)}`);
  } catch (err) {
    status.replaceWith(alertBox(err.message));
    return null;
  }
  status.textContent = `${data.results.length} result${data.results.length === 1 ? '' : 's'} on ${data.hub}`;
  const list = h('ul', { class: 'results' });
  for (const r of data.results) {
    const box = h('div', { class: 'progress', 'aria-live': 'polite' });
    const pull = h('button', { type: 'button', 'aria-label': `Pull ${r.name}` }, 'Pull');
    pull.addEventListener('click', async () => {
      pull.disabled = true;
      pull.textContent = 'Pulling…';
      try {
        const { id } = await api('POST', '/api/pulls', { ref: r.ref });
        streams.push(follow(id, r.ref, box, pull));
      } catch (err) {
        box.append(alertBox(err.message));
        pull.disabled = false;
        pull.textContent = 'Pull';
      }
    });
    const label = badgeLabel(r.badge);
    list.append(h('li', { class: 'result', 'data-name': r.name },
      h('header', {},
        h('span', { class: 'name' }, r.name),
        label ? h('span', { class: `badge ${r.badge}` }, label) : null,
        h('span', { class: 'stars', 'aria-label': `${r.stars} stars` }, `★ ${r.stars}`),
        h('div', { class: 'actions' }, pull)),
      h('p', { class: 'description' }, r.description || h('span', { class: 'muted' }, 'No description')),
      box));
  }
  main.append(data.results.length ? list : h('div', { class: 'card' }, `Nothing on ${data.hub} matches “${q}”.`));
  return () => streams.forEach((es) => es.close());
}
