// Lead list: "select all" for the bulk actions, and only the inputs the chosen action needs.
(function () {
  const all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('input[name="leads"]').forEach((box) => { box.checked = all.checked; });
    });
  }
  const action = document.getElementById("bulk-action");
  if (action) {
    const sync = () => {
      document.querySelectorAll("[data-for]").forEach((el) => { el.hidden = el.dataset.for !== action.value; });
    };
    action.addEventListener("change", sync);
    sync();
  }
})();
