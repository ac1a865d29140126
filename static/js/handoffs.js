// Handoff queue: keep the server's "due in 2 h 10 min" / "overdue by 15 min" text and the
// at-risk / overdue row classes current. Formats durations as leads/handoff_views.py does.
(function () {
  const AT_RISK_SHARE = 0.25;
  function duration(seconds) {
    let minutes = Math.floor(Math.abs(seconds) / 60);
    const days = Math.floor(minutes / 1440);
    minutes -= days * 1440;
    const hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + minutes + " min";
    return minutes + " min";
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-due]").forEach((el) => {
      const due = Date.parse(el.dataset.due);
      const created = Date.parse(el.dataset.created);
      if (isNaN(due)) return;
      const left = (due - now) / 1000;
      const windowSeconds = (due - created) / 1000;
      el.textContent = left > 0 ? "due in " + duration(left) : "overdue by " + duration(left);
      const row = el.closest(".handoff");
      if (!row) return;
      row.classList.toggle("overdue", left <= 0);
      row.classList.toggle("at-risk", left > 0 && (windowSeconds <= 0 || left < AT_RISK_SHARE * windowSeconds));
    });
  }
  setInterval(tick, 30000);
})();
