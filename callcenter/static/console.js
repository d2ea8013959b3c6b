// Console-wide behaviour. No inline handlers in the templates: the Content-Security-Policy forbids them.
document.addEventListener("change", (event) => {
  const el = event.target;
  // A <select class="auto-submit"> (the language menu) sends its form as soon as it changes.
  if (el instanceof HTMLSelectElement && el.classList.contains("auto-submit") && el.form) {
    el.form.submit();
  }
});
