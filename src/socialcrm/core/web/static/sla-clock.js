// The first-response clock of a Ticket counts down without a reload: the same labels the
// server renders (crm/sla.py marker), recomputed every 20 seconds from the due time.
(function () {
  function label(minutes) {
    if (minutes < 60) return "due in " + minutes + " min";
    if (minutes < 48 * 60) {
      var rest = minutes % 60;
      return "due in " + Math.floor(minutes / 60) + " h " + (rest < 10 ? "0" : "") + rest + " min";
    }
    return "due in " + Math.floor(minutes / (24 * 60)) + " days";
  }
  function tick() {
    document.querySelectorAll("[data-sla='due'][data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - Date.now();
      if (left < 0) {
        el.textContent = "SLA breached";
        el.className = "sla sla-breached";
        el.setAttribute("data-sla", "breached");
      } else {
        el.textContent = label(Math.floor(left / 60000));
      }
    });
  }
  tick();
  setInterval(tick, 20000);
})();
