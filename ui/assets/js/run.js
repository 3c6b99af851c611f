// The Run dialog: an image and its optional settings (name, a host port
// per exposed port, environment variables, volumes), as Docker Desktop's.
import { h, clear, api, link, alertBox } from './dom.js';

let uid = 0;
const nextID = (p) => `${p}-${++uid}`;

function pairRow(labels, placeholders, cls) {
  const ids = [nextID(cls), nextID(cls)];
  const row = h('div', { class: `row ${cls}` },
    h('div', {}, h('label', { for: ids[0] }, labels[0]), h('input', { id: ids[0], placeholder: placeholders[0] })),
    h('div', {}, h('label', { for: ids[1] }, labels[1]), h('input', { id: ids[1], placeholder: placeholders[1] })),
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove this ${labels[0].toLowerCase()}`, onclick: () => row.remove() }, '−'),
  );
  return row;
}

export async function openRunDialog(ref) {
  const dlg = document.getElementById('run-dialog');
  const d = await api('GET', `/api/image?ref=${encodeURIComponent(ref)}`);
  const errors = h('div', { 'aria-live': 'assertive' });
  const nameID = nextID('name');
  const ports = d.exposed_ports.map((p) => {
    const id = nextID('port');
    return h('div', { class: 'row port', 'data-port': p },
      h('div', {}, h('label', { for: id }, `Host port for ${p}`),
        h('input', { id, name: `port-${p}`, inputmode: 'numeric', placeholder: 'not published', 'aria-describedby': 'port-hint' })));
  });
  const envs = h('div', {});
  const vols = h('div', {});
  const form = h('form', { method: 'dialog' },
    h('h2', { id: 'run-title' }, `Run ${ref}`),
    h('p', { class: 'muted' }, 'Optional settings'),
    h('div', { class: 'field' }, h('label', { for: nameID }, 'Container name'),
      h('input', { id: nameID, name: 'name', placeholder: 'a random name', autocomplete: 'off' })),
    h('fieldset', {}, h('legend', {}, 'Ports'),
      ports.length ? [ports, h('p', { class: 'hint', id: 'port-hint' }, '0 picks a free host port; leave empty not to publish.')]
        : h('p', { class: 'hint' }, 'This image exposes no ports.')),
    h('fieldset', {}, h('legend', {}, 'Environment variables'), envs,
      h('button', { type: 'button', class: 'secondary', onclick: () => envs.append(pairRow(['Variable', 'Value'], ['NAME', 'value'], 'env')) }, 'Add variable')),
    h('fieldset', {}, h('legend', {}, 'Volumes'), vols,
      h('button', { type: 'button', class: 'secondary', onclick: () => vols.append(pairRow(['Host path or volume name', 'Container path'], ['/srv/data or data', '/data'], 'vol')) }, 'Add volume')),
    errors,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', value: 'run' }, 'Run')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(errors);
    const inputs = (row) => row.querySelectorAll('input');
    const body = {
      image: ref,
      name: form.querySelector(`#${nameID}`).value,
      ports: ports.map((row) => ({ container: row.dataset.port, host: inputs(row)[0].value })),
      env: [...envs.children].map((row) => { const [k, v] = inputs(row); return k.value ? `${k.value}=${v.value}` : ''; }),
      volumes: [...vols.children].map((row) => { const [s, t] = inputs(row); return s.value || t.value ? `${s.value}:${t.value}` : ''; }),
    };
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const c = await api('POST', '/api/containers', body);
      dlg.close();
      location.hash = link('container', { id: c.id });
    } catch (err) {
      errors.append(alertBox(err.message));
      submit.disabled = false;
      submit.textContent = 'Run';
    }
  });
  clear(dlg).append(form);
  dlg.showModal();
  form.querySelector(`#${nameID}`).focus();
}
