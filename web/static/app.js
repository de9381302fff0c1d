// linewatch pages: progressive enhancement only; every page works without it.
// Elements with data-refresh="URL" are replaced by the same element fetched
// from URL every data-every seconds (default 15), without a full reload.
"use strict";
(function () {
  function refresh(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-every") || "15", 10) * 1000;
    setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(el.id);
          if (fresh) { el.replaceWith(fresh); el = fresh; }
        })
        .catch(function () {});
    }, every);
  }
  // POST buttons carry the CSRF token from the page's meta tag.
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][id]").forEach(refresh);
    document.querySelectorAll("form[method=post]").forEach(function (f) {
      if (!f.querySelector("input[name=csrf]")) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = "csrf"; i.value = csrf();
        f.appendChild(i);
      }
    });
  });
})();
