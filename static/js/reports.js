// Reports: picking a date makes the period "custom"; picking a preset clears the dates, so
// the query string says one thing. Without JavaScript the form works the same (the server
// reads dates only for a custom period).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".report-filters");
    if (!form) return;
    var period = form.querySelector("[data-report-period]");
    var dates = form.querySelectorAll('input[type="date"]');
    if (!period) return;
    dates.forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.value) period.value = "custom";
      });
    });
    period.addEventListener("change", function () {
      if (period.value !== "custom") {
        dates.forEach(function (input) { input.value = ""; });
        form.requestSubmit();
      }
    });
  });
})();
