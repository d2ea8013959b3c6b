// The ticket page: sidebar fields save in place (no reload, the page stays where it is), and the
// composer shows whether the text goes to the customer or stays internal.
(function () {
  "use strict";

  function showVisibility(form) {
    var pub = form.querySelector("#vis-public");
    form.classList.toggle("is-public", !!(pub && pub.checked));
    form.classList.toggle("is-internal", !(pub && pub.checked));
  }

  var composer = document.getElementById("composer-form");
  if (composer) {
    showVisibility(composer);
    composer.addEventListener("change", function (event) {
      if (event.target.name === "visibility") showVisibility(composer);
    });
  }

  document.querySelectorAll("form.inplace").forEach(function (form) {
    var select = form.querySelector("[name=value]");
    var state = form.querySelector(".inplace-state");
    var saved = select.value;
    select.addEventListener("change", function () {
      state.textContent = "…";
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok || !res.data.ok) throw new Error(res.data.error || "error");
          saved = select.value;
          state.textContent = "✓";
          state.className = "inplace-state small ok";
          form.dataset.saved = "1";
          // A new company brings another contract, SLA and machines: the page has to show them.
          if (res.data.reload) window.location.reload();
        })
        .catch(function (err) {
          select.value = saved;
          state.textContent = err.message;
          state.className = "inplace-state small error";
        });
    });
  });
})();
