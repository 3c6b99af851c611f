// The hub's pages work without script; this only adds conveniences: copy
// buttons for the pull commands, and sorting as soon as the order changes.
document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-copy]');
  if (!b) return;
  const text = document.getElementById(b.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const sel = window.getSelection();
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(b.dataset.copy));
    sel.removeAllRanges();
    sel.addRange(range);
    document.execCommand('copy');
  }
  const was = b.textContent;
  b.textContent = 'Copied';
  setTimeout(() => { b.textContent = was; }, 1500);
});

for (const s of document.querySelectorAll('select[data-autosubmit]')) {
  s.addEventListener('change', () => s.form.submit());
}
