// The call notice on every console page of the people who take calls: a call offered to me (my
// phone is ringing) or the call I am on, with the caller's wait, and a link to the desk.
(function () {
  "use strict";
  var box = document.getElementById("call-notice");
  if (!box) return;
  var t = box.dataset, POLL_MS = 3000, shown = "";
  var title = document.title;

  function render(d) {
    var call = d.offered || d.call, kind = d.offered ? "offered" : "answered";
    // On the desk itself the screen-pop already shows the call being answered.
    if (!call || (kind === "answered" && t.onDesk === "1")) {
      box.hidden = true; shown = ""; document.title = title; return;
    }
    var key = kind + call.id + call.waited_text;
    if (key === shown) return;  // nothing changed: leave the DOM (and the reader's place) alone
    shown = key;
    box.className = "call-notice " + kind;
    var text = document.createElement("span");
    var who = document.createElement("b");
    who.textContent = call.caller;
    text.append((kind === "offered" ? t.offered : t.answered) + ": ", who);
    if (call.company) text.append(" · " + call.company);
    if (call.waited_text && call.waited !== null) text.append(" · " + t.waited + " " + call.waited_text);
    var nodes = [text];
    if (t.onDesk !== "1") {
      var a = document.createElement("a");
      a.href = t.desk; a.textContent = t.open; a.className = "button";
      nodes.push(a);
    }
    box.replaceChildren.apply(box, nodes);
    box.hidden = false;
    document.title = "\u260E " + title;
  }

  function poll() {
    fetch(t.source, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); })
      .catch(function () {})
      .finally(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
