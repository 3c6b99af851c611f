// Images: the table of local images, an image's details (layers,
// packages, vulnerabilities), delete with Docker's rules, and Run.
import { h, clear, api, size, ago, shortID, link, alertBox } from './dom.js';
import { openRunDialog } from './run.js';

function inUseLink(imageID, containers) {
  const n = containers.length;
  return h('a', {
    class: 'badge inuse', href: link('containers', { image: imageID }),
    title: `Used by ${n} container${n === 1 ? '' : 's'}: ${containers.map((c) => c.name).join(', ')}`,
  }, 'In use');
}

// deleteImage asks, then removes; a refusal shows Docker's reason and, when
// containers hold the image, the In use link to them.
async function deleteImage(ref, notices, after) {
  if (!window.confirm(`Delete ${ref}?`)) return;
  clear(notices);
  try {
    const res = await api('DELETE', `/api/images?ref=${encodeURIComponent(ref)}`);
    const lines = (res.deleted || []).map((d) => (d.Untagged ? `Untagged: ${d.Untagged}` : `Deleted: ${d.Deleted}`));
    notices.append(alertBox(lines.join('\n') || `Deleted ${ref}`, 'info'));
    after();
  } catch (err) {
    const ctrs = err.body.containers || [];
    notices.append(alertBox(err.message, '', ctrs.length ? inUseLink(err.body.image_id, ctrs) : null));
  }
}

export async function imagesPage(main) {
  const notices = h('div', { 'aria-live': 'polite' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading images…'));
  main.append(
    h('h1', {}, 'Images'),
    h('p', { class: 'muted' }, 'Images in the local store. ',
      h('a', { href: '#/search', onclick: (ev) => { ev.preventDefault(); document.getElementById('search-input').focus(); } }, 'Search images to run'),
      ' on the hub.'),
    notices, body,
  );
  const load = async () => {
    const rows = await api('GET', '/api/images');
    clear(body);
    if (!rows.length) {
      body.append(h('div', { class: 'card' }, 'No images yet. Search for one above (try “welcome”) and pull it.'));
      return;
    }
    const tbody = h('tbody');
    for (const r of rows) {
      tbody.append(h('tr', { 'data-ref': r.ref },
        h('td', { class: 'wrap-any' }, h('a', { href: link('image', { ref: r.ref }) }, r.repository)),
        h('td', {}, r.tag),
        h('td', { class: 'mono' }, r.short_id),
        h('td', {}, ago(r.created)),
        h('td', { class: 'num' }, size(r.size)),
        h('td', {}, r.containers.length ? inUseLink(r.id, r.containers) : h('span', { class: 'muted' }, 'Unused')),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', 'aria-label': `Run ${r.ref}`, onclick: () => openRunDialog(r.ref) }, 'Run'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${r.ref}`, onclick: () => deleteImage(r.ref, notices, load) }, 'Delete'),
        )),
      ));
    }
    body.append(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Local images'),
      h('thead', {}, h('tr', {}, ['Name', 'Tag', 'Image ID', 'Created', 'Size', 'Status', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)));
  };
  await load();
}

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== '' && v !== undefined && v !== null)
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function imagePage(main, params) {
  const ref = params.ref || '';
  const d = await api('GET', `/api/image?ref=${encodeURIComponent(ref)}`);
  const notices = h('div', { 'aria-live': 'polite' });
  main.append(
    h('h1', { class: 'wrap-any' }, ref, ' ', d.containers.length ? inUseLink(d.id, d.containers) : null),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => openRunDialog(ref) }, 'Run'),
      h('button', { type: 'button', class: 'danger', onclick: () => deleteImage(ref, notices, () => { location.hash = '#/images'; }) }, 'Delete'),
    ),
    notices,
    h('h2', {}, 'Overview'),
    h('div', { class: 'card' }, facts([
      ['Image ID', h('span', { class: 'mono' }, d.id)],
      ['Tags', d.tags.join(', ')],
      ['Created', `${ago(d.created)} (${d.created})`],
      ['Size', size(d.size)],
      ['Platform', d.platform],
      ['Entrypoint', d.entrypoint.length ? h('code', {}, JSON.stringify(d.entrypoint)) : ''],
      ['Command', d.cmd.length ? h('code', {}, JSON.stringify(d.cmd)) : ''],
      ['Working directory', d.working_dir],
      ['Exposed ports', d.exposed_ports.join(', ')],
      ['Volumes', d.volumes.join(', ')],
      ['Environment', d.env.length ? h('code', {}, d.env.join('\n')) : ''],
    ])),
    h('h2', { id: 'layers' }, `Layers (${d.layers.length})`),
    h('div', { class: 'table-wrap' }, h('table', { 'aria-labelledby': 'layers' },
      h('thead', {}, h('tr', {}, ['#', 'Command', 'Size', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, d.layers.map((l, i) => h('tr', { class: 'layer' },
        h('td', {}, String(i + 1)),
        h('td', { class: 'mono wrap-any' }, l.created_by),
        h('td', { class: 'num' }, size(l.size)),
        h('td', {}, ago(l.created))))))),
  );
  const pkgs = h('div', { class: 'card', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Reading layers…'));
  const vulns = h('div', { class: 'card', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Waiting for the package list…'));
  main.append(h('h2', { id: 'packages' }, 'Packages and libraries'), pkgs, h('h2', { id: 'vulnerabilities' }, 'Vulnerabilities'), vulns);

  const es = new EventSource(`/api/image/analysis?ref=${encodeURIComponent(ref)}`);
  const parse = (ev) => JSON.parse(ev.data);
  es.addEventListener('progress', (ev) => {
    const p = parse(ev);
    clear(pkgs).append(h('p', { class: 'muted' }, `Reading layers: ${p.done} of ${p.total}`), h('progress', { max: p.total, value: p.done }));
  });
  es.addEventListener('packages', (ev) => {
    const p = parse(ev);
    clear(pkgs);
    if (p.distro) pkgs.append(h('p', {}, `Operating system: ${p.distro}`));
    if (!p.packages.length) { pkgs.append(h('p', {}, 'No packages or libraries found.')); return; }
    pkgs.append(h('p', {}, `${p.packages.length} packages and libraries`),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Version', 'Type', 'Found in', 'Layer'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, p.packages.map((k) => h('tr', {},
          h('td', {}, k.name), h('td', { class: 'mono' }, k.version), h('td', {}, k.type),
          h('td', { class: 'mono wrap-any' }, k.path), h('td', { class: 'num' }, String(k.layer + 1))))))));
    clear(vulns).append(h('p', { class: 'muted' }, 'Matching against the vulnerability database…'));
  });
  es.addEventListener('vulnerabilities', (ev) => {
    const v = parse(ev);
    es.close();
    clear(vulns);
    if (v.database === 'none') { vulns.append(h('p', { class: 'no-db' }, v.message)); return; }
    vulns.append(h('p', {}, `${v.total} known vulnerabilit${v.total === 1 ? 'y' : 'ies'} in ${v.packages} package${v.packages === 1 ? '' : 's'}`),
      h('div', { class: 'severities' }, ['critical', 'high', 'medium', 'low', 'unknown'].map((s) => h('span', { class: `sev ${s}` }, `${s[0].toUpperCase()}${s.slice(1)} ${v.counts[s] || 0}`))));
    if (v.findings.length) {
      vulns.append(h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['ID', 'Severity', 'Package', 'Installed', 'Fixed in'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, v.findings.map((f) => h('tr', {},
          h('td', { class: 'mono', title: f.summary }, f.id), h('td', {}, f.severity), h('td', {}, f.package),
          h('td', { class: 'mono' }, f.installed), h('td', { class: 'mono' }, f.fixed_in.join(', '))))))));
    }
  });
  es.addEventListener('error', (ev) => {
    if (ev.data) {
      clear(pkgs).append(alertBox(parse(ev).error));
      clear(vulns);
    }
    es.close();
  });
  return () => es.close();
}
