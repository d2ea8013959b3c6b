// Open alerts on the on-call page: refreshed from a small JSON endpoint without reloading the page.
(function () {
  "use strict";
  var table = document.getElementById("alerts");
  if (!table) return;
  var labels = document.getElementById("alert-labels").dataset;
  var POLL_MS = 5000;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : text;
    return td;
  }

  function button(alert, action) {
    var form = document.createElement("form");
    form.method = "post";
    form.className = "inline";
    form.action = alert.url + "/" + action;
    var token = document.createElement("input");
    token.type = "hidden"; token.name = "csrf_token"; token.value = labels.csrf;
    var next = document.createElement("input");
    next.type = "hidden"; next.name = "next"; next.value = window.location.pathname;
    var b = document.createElement("button");
    b.className = action; b.id = action + "-" + alert.id; b.textContent = labels[action];
    form.appendChild(token); form.appendChild(next); form.appendChild(b);
    return form;
  }

  function render(items, updated) {
    var body = document.createElement("tbody");
    items.forEach(function (a) {
      var tr = document.createElement("tr");
      tr.className = "alert-" + a.status;
      tr.dataset.alert = a.id;
      var first = document.createElement("td"), link = document.createElement("a");
      link.href = a.url; link.textContent = a.id; first.appendChild(link); tr.appendChild(first);
      [a.status_label || a.status, a.summary, a.customer, a.ticket ? "#" + a.ticket : "", a.loop + "/" + a.step,
       a.created_local || (a.created_at || "").replace("T", " ").slice(0, 16), a.acknowledged_by].forEach(function (v) {
        tr.appendChild(cell(v));
      });
      var actions = document.createElement("td");
      actions.className = "actions";
      if (a.status === "triggered") actions.appendChild(button(a, "acknowledge"));
      actions.appendChild(button(a, "escalate"));
      actions.appendChild(button(a, "resolve"));
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    if (!items.length) {
      var tr = document.createElement("tr"), td = cell(labels.none);
      td.colSpan = 9; tr.appendChild(td); body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
    var stamp = document.getElementById("alerts-updated");
    stamp.textContent = stamp.dataset.label + " " + (updated || "");
  }

  function poll() {
    fetch(table.dataset.poll, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { render(data.items, data.updated); })
      .catch(function () { /* keep the last table; the next poll may succeed */ });
  }

  setInterval(poll, POLL_MS);
})();
