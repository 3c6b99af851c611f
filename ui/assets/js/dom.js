// DOM helpers. Everything the dashboard shows is built with these: text is
// always a text node, never parsed as HTML, so a repository description or
// a container's log cannot run script in the page.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// api calls the dashboard's JSON API; a failure throws an Error carrying
// the answer's body (its "error" is the message).
export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) {
    const err = new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    err.body = data || {};
    throw err;
  }
  return data;
}

// size words a byte count as Docker does (decimal units, 3 digits).
export function size(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

// ago words a time as Docker's CREATED column does.
export function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'} ago`;
  if (s < 1) return 'Less than a second ago';
  if (s < 60) return plural(Math.floor(s), 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? 'About a minute ago' : plural(m, 'minute');
  const hr = Math.round(s / 3600);
  if (hr < 48) return hr === 1 ? 'About an hour ago' : plural(hr, 'hour');
  const d = Math.floor(s / 86400);
  if (d < 14) return plural(d, 'day');
  if (d < 60) return plural(Math.floor(d / 7), 'week');
  if (d < 730) return plural(Math.floor(d / 30), 'month');
  return plural(Math.floor(d / 365), 'year');
}

export function shortID(id) {
  return (id || '').replace(/^sha256:/, '').slice(0, 12);
}

// link builds an in-page address: #/page?k=v with every value encoded.
export function link(page, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return `#/${page}${qs ? `?${qs}` : ''}`;
}

// portURL is where a published port answers, seen from this browser.
export function portURL(p) {
  let host = p.host_ip;
  if (!host || host === '0.0.0.0' || host === '::') host = location.hostname;
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${p.host_port}/`;
}

export function badgeLabel(b) {
  return { official: 'Official Image', verified_publisher: 'Verified Publisher', open_source: 'Sponsored OSS' }[b] || '';
}

export function alertBox(message, kind, ...extra) {
  return h('div', { class: `alert ${kind || ''}`, role: kind === 'info' ? 'status' : 'alert' }, message, extra);
}
