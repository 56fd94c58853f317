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
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.requestSubmit(); }
  });
})();
