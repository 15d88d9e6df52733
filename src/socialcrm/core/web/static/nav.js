// The main navigation is a <details> that the server sends open, so without a script every
// link shows. On a narrow screen it starts closed behind its "Menu" button (a summary: Tab
// reaches it, Enter or Space opens it) and opens again when the window grows wide.
(() => {
  const menu = document.querySelector("details.navmenu");
  if (!menu) return;
  const narrow = window.matchMedia("(max-width: 760px)");
  const fit = () => { menu.open = !narrow.matches; };
  fit();
  narrow.addEventListener("change", fit);
})();
