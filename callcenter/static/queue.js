// The agents' queue: poll a small JSON endpoint and count the SLA clocks down between polls.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) return;
  var labels = document.getElementById("queue-labels").dataset;
  var POLL_MS = 5000;

  function hm(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.abs(Math.trunc(seconds));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return sign + h + ":" + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
  }

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function render(rows) {
    var body = document.createElement("tbody");
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      if (r.category === "complaint") tr.classList.add("complaint");
      if (r.breached) tr.classList.add("breached");
      var first = document.createElement("td"), a = document.createElement("a");
      a.href = r.url; a.textContent = "#" + r.number; first.appendChild(a); tr.appendChild(first);
      [r.subject, r.company, r.category_label || r.category].forEach(function (v) { tr.appendChild(cell(v)); });
      tr.appendChild(cell(r.priority_label || r.priority, "prio-" + r.priority));
      [r.status_label || r.status, r.level_label || r.level, r.assignee].forEach(function (v) { tr.appendChild(cell(v)); });
      var sla = cell("", "sla");
      sla.dataset.remaining = r.remaining_seconds === null ? "" : r.remaining_seconds;
      sla.dataset.running = r.clock_running ? "1" : "0";
      sla.dataset.paused = r.paused ? "1" : "0";
      sla.dataset.responded = r.responded ? "1" : "0";
      tr.appendChild(sla);
      body.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr"), td = cell(labels.empty, "muted");
      td.colSpan = 9; tr.appendChild(td); body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
    tick(0);
  }

  // Only running clocks move: a paused ticket or a closed office does not use working time.
  function tick(elapsed) {
    Array.prototype.forEach.call(table.querySelectorAll("td.sla"), function (td) {
      var d = td.dataset;
      if (d.remaining === "" || d.remaining === undefined) { td.textContent = "—"; return; }
      var left = Number(d.remaining);
      if (d.running === "1") { left -= elapsed; d.remaining = left; }
      var suffix = d.paused === "1" ? " (" + labels.paused + ")" : d.responded === "1" ? " (" + labels.responded + ")" : "";
      td.textContent = hm(left) + suffix;
      td.classList.toggle("stopped", d.running !== "1");
      td.classList.toggle("breached", left < 0);
    });
  }

  function poll() {
    fetch(table.dataset.source, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        render(data.rows);
        var stamp = document.getElementById("queue-updated");
        if (stamp) stamp.textContent = labels.updated + " " + data.at_local;
      })
      .catch(function () { /* keep counting; the next poll retries */ });
  }

  tick(0);
  setInterval(function () { tick(1); }, 1000);
  setInterval(poll, POLL_MS);
  poll();
})();
