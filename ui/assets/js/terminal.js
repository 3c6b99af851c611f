// The Exec tab: xterm.js on a websocket to a shell on a pty in the
// container. Keys go as binary messages; resizes as {"type":"resize"}.
import { h, alertBox } from './dom.js';

export function openTerminal(id, panel) {
  if (!window.Terminal || !window.FitAddon) {
    panel.append(alertBox('The terminal is not built into this berth binary: build it with make build (it copies xterm.js from npm).'));
    return () => {};
  }
  const box = h('div', { class: 'terminal', 'aria-label': 'Terminal' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Connecting…');
  panel.append(status, box);
  const term = new window.Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, screenReaderMode: false });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/api/containers/${encodeURIComponent(id)}/exec?cols=${term.cols}&rows=${term.rows}`);
  ws.binaryType = 'arraybuffer';
  const enc = new TextEncoder();
  ws.addEventListener('open', () => { status.textContent = 'Connected: a shell in the container.'; term.focus(); });
  ws.addEventListener('message', (ev) => {
    if (typeof ev.data !== 'string') { term.write(new Uint8Array(ev.data)); return; }
    const m = JSON.parse(ev.data);
    if (m.type === 'exit') status.textContent = `The shell exited with code ${m.code}.`;
    if (m.type === 'error') { status.textContent = ''; panel.prepend(alertBox(m.message)); }
  });
  ws.addEventListener('close', () => { if (status.textContent.startsWith('Connect')) status.textContent = 'Disconnected.'; });
  const data = term.onData((d) => { if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
  const resize = term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  });
  const onWindow = () => fit.fit();
  window.addEventListener('resize', onWindow);
  return () => {
    window.removeEventListener('resize', onWindow);
    data.dispose();
    resize.dispose();
    ws.close();
    term.dispose();
  };
}
