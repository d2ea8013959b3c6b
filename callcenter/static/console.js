// Console-wide behaviour. No inline handlers in the templates: the Content-Security-Policy forbids them.
document.addEventListener("change", (event) => {
  const el = event.target;
  // A <select class="auto-submit"> (the language menu) sends its form as soon as it changes.
  if (el instanceof HTMLSelectElement && el.classList.contains("auto-submit") && el.form) {
    el.form.submit();
  }
});

// On a phone a table row becomes a card with each value under its column's name: copy the header
// cells' text into data-label (CSS shows it), again whenever a page script redraws the rows.
(function () {
  "use strict";
  function label(table) {
    const names = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    if (!names.length) return;
    table.querySelectorAll("tbody tr").forEach((tr) => {
      let col = 0;
      Array.from(tr.children).forEach((td) => {
        const name = names[col];
        if (name && td.colSpan === 1 && !td.dataset.label) td.dataset.label = name;
        col += td.colSpan || 1;
      });
    });
  }
  function labelAll() { document.querySelectorAll("main table.grid").forEach(label); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", labelAll);
  else labelAll();
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; labelAll(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
