// The queue and the ticket list: bulk selection, and (queue only) a poll of a small JSON endpoint that
// refreshes the rows in place and counts the SLA clocks down between polls. A refresh keeps the
// ticked rows ticked, the focused control focused and the page where it was scrolled to.
(function () {
  "use strict";

  // --- bulk selection (both pages) ---
  var bulkForm = document.getElementById("bulk-form");
  function picks() { return bulkForm ? bulkForm.querySelectorAll("input.pick") : []; }
  function countPicks() {
    var counter = document.querySelector("#bulk-count b");
    if (!counter) return;
    counter.textContent = Array.prototype.filter.call(picks(), function (p) { return p.checked; }).length;
  }
  if (bulkForm) {
    bulkForm.addEventListener("change", function (event) {
      if (event.target.id === "select-all") {
        Array.prototype.forEach.call(picks(), function (p) { p.checked = event.target.checked; });
      }
      countPicks();
    });
  }

  var table = document.getElementById("queue");
  if (!table) return;
  var labels = document.getElementById("queue-labels").dataset;
  var withPicks = labels.picks === "1";
  var columns = withPicks ? 11 : 10;
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
    var checked = {}, focusedNumber = null, active = document.activeElement;
    Array.prototype.forEach.call(picks(), function (p) { if (p.checked) checked[p.value] = true; });
    if (active && table.tBodies[0].contains(active)) {
      var row = active.closest("tr");
      focusedNumber = row ? row.dataset.number : null;
    }
    var scrollX = window.scrollX, scrollY = window.scrollY;
    var body = document.createElement("tbody");
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.number = r.number;
      if (r.category === "complaint") tr.classList.add("complaint");
      if (r.breached) tr.classList.add("breached");
      if (withPicks) {
        var pickCell = document.createElement("td"), box = document.createElement("input");
        box.type = "checkbox"; box.name = "ticket"; box.value = r.number; box.className = "pick";
        box.setAttribute("aria-label", "#" + r.number);
        box.checked = !!checked[r.number];
        pickCell.appendChild(box); tr.appendChild(pickCell);
      }
      var first = document.createElement("td"), a = document.createElement("a");
      a.href = r.url; a.textContent = "#" + r.number; first.appendChild(a); tr.appendChild(first);
      tr.appendChild(cell(r.subject));
      var caller = cell(r.caller, "caller");
      if (r.caller_phone) {
        var phone = document.createElement("span"); phone.className = "small muted"; phone.textContent = " " + r.caller_phone;
        caller.appendChild(phone);
      }
      tr.appendChild(caller);
      [r.company, r.category_label || r.category].forEach(function (v) { tr.appendChild(cell(v)); });
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
      td.colSpan = columns; tr.appendChild(td); body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
    if (focusedNumber !== null) {
      var again = body.querySelector('tr[data-number="' + focusedNumber + '"] input, tr[data-number="' + focusedNumber + '"] a');
      if (again) again.focus({ preventScroll: true });
    }
    window.scrollTo(scrollX, scrollY);
    countPicks();
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
    // While the agent is choosing a bulk change, the rows stay put.
    var active = document.activeElement;
    if (active && active.closest && active.closest("#bulk-bar")) return;
    fetch(table.dataset.source, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        render(data.rows);
        var total = document.getElementById("queue-total");
        if (total && typeof data.total === "number") total.textContent = data.total;
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
