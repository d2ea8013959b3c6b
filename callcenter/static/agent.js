// Agents' desk (screen-pop) and the wallboard: poll small JSON endpoints, no page reloads.
(function () {
  "use strict";
  var POLL_MS = 2000;

  // The console's one wait format (callcenter.web.formats.wait): m:ss, h:mm:ss from an hour on.
  function mmss(s) {
    s = Math.max(0, Math.trunc(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + sec : m + ":" + sec;
  }
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  function link(t) {
    var li = el("li"), a = el("a", "#" + t.number + " " + t.subject);
    a.href = t.url; li.appendChild(a);
    li.appendChild(el("span", " · " + (t.status_label || t.status) + " · " + (t.priority_label || t.priority)));
    return li;
  }
  function fill(id, items, make) {
    var box = document.getElementById(id);
    box.replaceChildren.apply(box, items.map(make));
  }
  function poll(url, render) {
    function once() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) render(data); })
        .catch(function () {})
        .finally(function () { setTimeout(once, POLL_MS); });
    }
    once();
  }

  var state = document.getElementById("agent-state");
  if (state) {
    var labels = document.getElementById("pop-labels").dataset;
    var pop = document.getElementById("screen-pop"), shown = null;
    poll(state.dataset.source, function (d) {
      state.textContent = d.state_label;
      document.querySelectorAll("#state-buttons button[name=state]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.value === d.state ? "true" : "false");
      });
      document.getElementById("agent-state-for").textContent = mmss(d.state_seconds);
      var c = d.call;
      if (!c) { pop.hidden = true; shown = null; return; }
      pop.hidden = false;
      pop.dataset.callId = c.call_id;
      if (shown === c.call_id) return;  // keep what the agent is typing
      shown = c.call_id;
      var facts = [[labels.number, c.caller]];
      if (c.waited !== null && c.waited !== undefined) facts.push([labels.waited, c.waited_text || mmss(c.waited)]);
      if (c.contact) facts.push([labels.contact, c.contact.name + (c.contact.role ? " (" + c.contact.role + ")" : "")]);
      if (c.company) facts.push([labels.company, c.company.name]);
      if (c.contract) facts.push([labels.contract, c.contract.name + " · " + (c.contract.package_label || c.contract.package) +
        " · " + c.contract.sla.map(function (s) { return (s.category_label || s.category) + " " + (s.target_text || s.minutes / 60 + " h"); }).join(", ")]);
      if (c.asset) facts.push([labels.asset, c.asset.identifier + " " + (c.asset.model || "")]);
      fill("pop-facts", facts, function (f) { var d = el("div"); d.appendChild(el("dt", f[0])); d.appendChild(el("dd", f[1])); return d; });
      var ivr = document.getElementById("pop-ivr");
      ivr.replaceChildren(c.ivr_ticket ? link(c.ivr_ticket).firstChild : el("span", labels.none));
      fill("pop-open", c.open_tickets, link);
      fill("pop-faults", c.asset_faults, link);
      document.getElementById("pop-link").action = c.link_url;
      document.getElementById("pop-open-ticket").action = c.open_url;
      document.getElementById("pop-wrap-up").action = c.wrap_up_url;
      if (c.ivr_ticket) document.querySelector("#pop-wrap-up input[name=number]").value = c.ivr_ticket.number;
    });
  }

  // The wallboard changes only the text that changed: rows are kept and reused, so nothing flickers.
  function setText(node, text) { if (node.textContent !== String(text)) node.textContent = text; }
  function rows(id, items, cells, rowClass) {
    var body = document.getElementById(id);
    while (body.rows.length > items.length) body.deleteRow(-1);
    items.forEach(function (item, i) {
      var values = cells(item), tr = body.rows[i] || body.insertRow(-1);
      while (tr.cells.length < values.length) tr.insertCell(-1);
      values.forEach(function (v, j) { setText(tr.cells[j], v); });
      var cls = rowClass ? rowClass(item) : "";
      if (tr.className !== cls) tr.className = cls;
    });
  }

  var board = document.getElementById("wallboard");
  if (board) {
    var full = document.getElementById("wb-fullscreen");
    if (full && document.documentElement.requestFullscreen) {
      full.addEventListener("click", function () { board.requestFullscreen().catch(function () {}); });
    } else if (full) { full.hidden = true; }
    poll(board.dataset.source, function (d) {
      rows("wb-waiting", d.waiting, function (w) {
        return [w.caller, w.company || "", w.waited_text || mmss(w.waited), w.offered_to || ""];
      });
      rows("wb-agents", d.agents, function (a) { return [a.name, a.state_label, a.for_text || mmss(a.seconds)]; },
           function (a) { return "state-" + a.state; });
      setText(document.getElementById("wb-waiting-count"), d.waiting_count);
      setText(document.getElementById("wb-longest"), d.longest_wait_text);
      setText(document.getElementById("wb-share"), d.within_share === null ? "—" : d.within_share + " %");
      setText(document.getElementById("wb-answered"), d.answered_today);
      setText(document.getElementById("wb-within"), d.answered_within_threshold);
      setText(document.getElementById("wb-missed"), d.missed_today);
      document.getElementById("tile-waiting").classList.toggle("alarm", d.waiting_count > 0);
      d.by_state.forEach(function (s) {
        var b = document.getElementById("wb-state-" + s.state);
        if (b) setText(b, s.count);
      });
      setText(document.getElementById("wb-updated"), d.updated || "");
    });
  }
})();
