// Open alerts on the on-call page: the cards are re-read from the server every few seconds and
// swapped in only when they changed, keeping the ticked boxes and the focused button; nothing flickers.
(function () {
  "use strict";
  var box = document.getElementById("alerts");
  if (!box) return;
  var POLL_MS = 5000;
  var last = box.innerHTML;
  var count = document.getElementById("selected-count");

  function selected() {
    return Array.prototype.map.call(box.querySelectorAll("input.select-alert:checked"), function (c) { return c.value; });
  }
  function showCount() {
    var n = selected().length;
    if (count) count.textContent = n ? "(" + n + ")" : "";
  }

  function swap(html) {
    if (html === last) return;
    last = html;
    var ticked = selected();
    var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : null;
    box.innerHTML = html;
    ticked.forEach(function (id) {
      var c = document.getElementById("select-" + id);
      if (c) c.checked = true;
    });
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    showCount();
  }

  var at = "";

  function poll() {
    fetch(box.dataset.poll, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (!r.ok) return Promise.reject(r.status);
        // The server's time in the viewer's zone (24-hour), not the browser's clock.
        at = r.headers.get("X-Local-Time") || "";
        return r.text();
      })
      .then(function (html) {
        swap(html.trim());
        var stamp = document.getElementById("alerts-updated");
        stamp.textContent = stamp.dataset.label + " " + at;
      })
      .catch(function () { /* keep the last cards; the next poll may succeed */ });
  }

  box.addEventListener("change", showCount);
  last = box.innerHTML.trim();
  setInterval(poll, POLL_MS);
})();
