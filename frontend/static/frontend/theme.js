// Loaded in <head>, before the page is drawn: the theme chosen with the header's toggle
// (light or dark), remembered in this browser; without a choice the system's preference
// applies (prefers-color-scheme in app.css).
(function () {
  "use strict";
  var chosen = null;
  try { chosen = window.localStorage.getItem("harbor-theme"); } catch (e) { chosen = null; }
  if (chosen === "dark" || chosen === "light") {
    document.documentElement.setAttribute("data-theme", chosen);
  }
})();
