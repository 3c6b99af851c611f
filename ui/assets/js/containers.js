// Containers: the list (status, ports, stop, start, delete), and one
// container's page with its log, followed, and a terminal (Exec).
import { h, clear, api, ago, shortID, link, portURL, alertBox } from './dom.js';
import { openTerminal } from './terminal.js';

function portLinks(c) {
  const links = c.ports.map((p) => h('a', { class: 'port', href: portURL(p), target: '_blank', rel: 'noopener noreferrer' },
    `${p.host_port}:${p.container_port}/${p.proto}`));
  const rest = c.exposed.map((p) => h('span', { class: 'muted' }, p));
  const all = [...links, ...rest];
  return all.length ? all.flatMap((el, i) => (i ? [', ', el] : [el])) : h('span', { class: 'muted' }, '—');
}

function stateBadge(c) {
  return h('span', { class: `badge ${c.state}` }, c.running ? 'Running' : c.state === 'created' ? 'Created' : 'Exited');
}

async function act(method, path, notices, after) {
  clear(notices);
  try {
    await api(method, path);
    await after();
  } catch (err) {
    notices.append(alertBox(err.message));
  }
}

function actions(c, notices, after) {
  const id = encodeURIComponent(c.id);
  const name = c.name;
  return h('div', { class: 'actions' },
    c.running
      ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Stop ${name}`, onclick: () => act('POST', `/api/containers/${id}/stop`, notices, after) }, 'Stop')
      : h('button', { type: 'button', class: 'secondary', 'aria-label': `Start ${name}`, onclick: () => act('POST', `/api/containers/${id}/start`, notices, after) }, 'Start'),
    h('button', {
      type: 'button', class: 'danger', 'aria-label': `Delete ${name}`,
      onclick: () => {
        if (window.confirm(c.running ? `Delete ${name}? It is running: it will be stopped first.` : `Delete ${name}?`)) {
          act('DELETE', `/api/containers/${id}`, notices, async () => after(true));
        }
      },
    }, 'Delete'));
}

export async function containersPage(main, params) {
  const notices = h('div', { 'aria-live': 'polite' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading containers…'));
  main.append(h('h1', {}, 'Containers'));
  if (params.image) {
    main.append(h('p', {}, `Containers using image ${shortID(params.image)} `, h('a', { href: link('containers') }, 'Show all')));
  }
  main.append(notices, body);
  const load = async () => {
    let rows = await api('GET', '/api/containers');
    if (params.image) rows = rows.filter((c) => c.image_id === params.image);
    clear(body);
    if (!rows.length) {
      body.append(h('div', { class: 'card' }, params.image ? 'No container uses this image now.' : 'No containers. Run one from Images.'));
      return;
    }
    body.append(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Containers'),
      h('thead', {}, h('tr', {}, ['Name', 'Image', 'Status', 'Ports', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((c) => h('tr', { 'data-id': c.id, 'data-name': c.name },
        h('td', {}, h('a', { href: link('container', { id: c.id }) }, c.name), h('div', { class: 'muted mono' }, c.short_id)),
        h('td', { class: 'wrap-any' }, c.image),
        h('td', {}, stateBadge(c), ' ', h('span', { class: 'muted' }, c.status)),
        h('td', {}, portLinks(c)),
        h('td', {}, ago(c.created)),
        h('td', {}, actions(c, notices, load))))))));
  };
  await load();
  return null;
}

export async function containerPage(main, params) {
  const id = params.id || '';
  const notices = h('div', { 'aria-live': 'polite' });
  const head = h('div', {});
  main.append(head, notices);
  let stopLogs = null;
  let stopTerm = null;
  const load = async (removed) => {
    if (removed === true) { location.hash = link('containers'); return; }
    const c = (await api('GET', '/api/containers')).find((x) => x.id === id || x.name === id);
    clear(head);
    if (!c) { head.append(h('h1', {}, 'No such container'), h('p', {}, h('a', { href: link('containers') }, 'All containers'))); return; }
    head.append(
      h('h1', {}, c.name, ' ', stateBadge(c)),
      h('dl', { class: 'facts card' },
        h('dt', {}, 'ID'), h('dd', { class: 'mono' }, c.id),
        h('dt', {}, 'Image'), h('dd', {}, h('a', { href: link('image', { ref: c.image }) }, c.image)),
        h('dt', {}, 'Status'), h('dd', {}, c.status),
        h('dt', {}, 'Ports'), h('dd', { class: 'ports' }, portLinks(c)),
        h('dt', {}, 'Command'), h('dd', { class: 'mono' }, c.command)),
      actions(c, notices, load));
  };
  await load();

  const tabs = [['logs', 'Logs'], ['exec', 'Exec']];
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Container views' });
  const panel = h('div', { class: 'panel', role: 'tabpanel', tabindex: '0' });
  main.append(tabList, panel);
  const select = (name, focus) => {
    if (stopLogs) { stopLogs(); stopLogs = null; }
    if (stopTerm) { stopTerm(); stopTerm = null; }
    for (const b of tabList.children) {
      const on = b.dataset.tab === name;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on) { panel.setAttribute('aria-labelledby', b.id); if (focus) b.focus(); }
    }
    clear(panel);
    if (name === 'logs') stopLogs = followLogs(id, panel);
    else stopTerm = openTerminal(id, panel);
  };
  for (const [name, label] of tabs) {
    tabList.append(h('button', { type: 'button', role: 'tab', id: `tab-${name}`, 'data-tab': name, onclick: () => select(name, false) }, label));
  }
  // Arrow keys move between tabs, as in any tab list.
  tabList.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
    const i = tabs.findIndex(([n]) => n === document.activeElement.dataset.tab);
    const next = tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length][0];
    select(next, true);
  });
  select(params.tab === 'exec' ? 'exec' : 'logs', false);
  return () => { if (stopLogs) stopLogs(); if (stopTerm) stopTerm(); };
}

function followLogs(id, panel) {
  const pre = h('pre', { class: 'logs', 'aria-label': 'Container log', tabindex: '0' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Following the log…');
  panel.append(status, pre);
  const es = new EventSource(`/api/containers/${encodeURIComponent(id)}/logs`);
  es.addEventListener('log', (ev) => {
    const l = JSON.parse(ev.data);
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(h('span', { class: l.stream }, l.text));
    if (stick) pre.scrollTop = pre.scrollHeight;
  });
  es.addEventListener('end', () => { es.close(); status.textContent = 'The container stopped; the log ends here.'; });
  es.addEventListener('error', (ev) => {
    es.close();
    status.textContent = ev.data ? JSON.parse(ev.data).error : 'The log stream ended.';
  });
  return () => es.close();
}
