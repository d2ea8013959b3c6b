// Loaded on every console page. No inline scripts anywhere (the Content-Security-Policy forbids
// them): behaviour hangs off data-* attributes.
(function () {
  "use strict";
  // <select data-autosubmit>: choosing submits its form (the language switcher).
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });
})();
