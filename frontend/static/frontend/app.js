// harbor-py web UI: the little script htmx does not cover. Pages work without it.
(function () {
  "use strict";

  // With script the language select submits itself; its Switch button is for pages without.
  document.documentElement.classList.add("js");

  function announce(text) {
    var region = document.getElementById("live");
    if (region) { region.textContent = ""; region.textContent = text; }
  }

  // Copy to clipboard: <button data-copy="text" data-copied="Copied">.
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var text = button.getAttribute("data-copy");
    var done = function () {
      var label = button.getAttribute("data-copied") || "Copied";
      button.setAttribute("data-label", button.textContent);
      button.textContent = label;
      announce(label);
      setTimeout(function () { button.textContent = button.getAttribute("data-label"); }, 2000);
    };
    var copy = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text) : fallbackCopy(text);
    copy.then(done, function () { fallbackCopy(text).then(done); });
  });

  // Auto-submit selects marked data-autosubmit (language switcher, filters). A select
  // marked data-autosubmit="pointer" does not submit on arrow keys (each would reload the
  // page): from the keyboard, Enter submits, and its form's button shows.
  var keyed = null;
  document.addEventListener("keydown", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit=pointer]");
    if (!select) { return; }
    keyed = select;
    select.form.classList.add("keyboard");
    if (event.key === "Enter") { event.preventDefault(); select.form.requestSubmit(); }
  });
  // Label colours: <span data-color="#RRGGBB">. Set through the CSSOM, which the page's
  // Content-Security-Policy allows, unlike a style attribute.
  function paintLabels(root) {
    root.querySelectorAll("[data-color]").forEach(function (badge) {
      badge.style.borderLeft = "0.6rem solid " + badge.getAttribute("data-color");
    });
  }
  paintLabels(document);
  document.addEventListener("htmx:afterSwap", function (event) { paintLabels(event.target); });

  // Auto-submit selects marked data-autosubmit (language switcher, filters).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches("select[data-autosubmit]")) { return; }
    if (select.getAttribute("data-autosubmit") === "pointer" && keyed === select) { return; }
    select.form.requestSubmit();
  });
  document.addEventListener("pointerdown", function () { keyed = null; });

  // The theme toggle: dark or light from now on in this browser (theme.js applies it
  // before the page is drawn); the button says whether the dark theme is on.
  function darkNow() {
    var chosen = document.documentElement.getAttribute("data-theme");
    if (chosen) { return chosen === "dark"; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  function showTheme() {
    document.querySelectorAll(".theme-toggle").forEach(function (button) {
      button.setAttribute("aria-pressed", darkNow() ? "true" : "false");
    });
  }
  document.addEventListener("DOMContentLoaded", showTheme);
  document.addEventListener("click", function (event) {
    if (!event.target.closest(".theme-toggle")) { return; }
    var next = darkNow() ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try { window.localStorage.setItem("harbor-theme", next); } catch (e) { /* private mode */ }
    showTheme();
  });

  // Robot permissions: select-all per resource (row) and per action (column), and the
  // presets (their permissions come from the server, in the select's data-preset).
  function cellsOf(toggle) {
    var table = toggle.closest("[data-perm-matrix]");
    var key = toggle.dataset.selectRow ? "resource" : "action";
    var value = toggle.dataset.selectRow || toggle.dataset.selectCol;
    return Array.prototype.filter.call(table.querySelectorAll("td input"), function (box) {
      return box.dataset[key] === value;
    });
  }
  function syncSelectAll(table) {
    table.querySelectorAll(".select-all").forEach(function (toggle) {
      var cells = cellsOf(toggle);
      toggle.hidden = cells.length === 0;
      toggle.checked = cells.length > 0 && cells.every(function (box) { return box.checked; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-perm-matrix]").forEach(syncSelectAll);
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    var table = target.closest("[data-perm-matrix]");
    if (table && target.classList.contains("select-all")) {
      cellsOf(target).forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("select[data-preset]") && target.value) {
      var form = target.closest("form");
      table = form.querySelector("[data-perm-matrix] input[name=permissions]");
      table = table && table.closest("[data-perm-matrix]");
      if (!table) { return; }
      var wanted = JSON.parse(target.dataset.preset)[target.value];
      table.querySelectorAll("td input").forEach(function (box) {
        box.checked = !wanted || wanted.indexOf(box.value) >= 0;
      });
    }
    if (table) { syncSelectAll(table); }
  });

  // The header's menu button (phones).
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (!toggle) { return; }
    var header = toggle.closest("header");
    var open = header.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();

// Back/Forward may restore a search form as it was typed while the rows are those of
// the page's URL: put the form back to what the server rendered (its query).
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[role=search]").forEach(function (form) { form.reset(); });
});
