// Relative times ("3 min ago", "in 5 h") for <time data-relative>; the exact time stays in title.
// Worded in the page's language (<html lang>, set from the user's choice or the browser's).
(function () {
  "use strict";
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "auto", style: "short" });

  function relative(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return gettext("just now");
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "minute") {
        if (unit === "day" && Math.abs(seconds) > 7 * 86400) return null;
        return format.format(Math.round(seconds / size), unit);
      }
    }
    return null;
  }

  function refresh(root) {
    for (const node of (root || document).querySelectorAll("time[data-relative]")) {
      const date = new Date(node.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      const text = relative(date);
      if (text) node.textContent = text;
    }
  }

  document.addEventListener("DOMContentLoaded", function () { refresh(document); });
  document.addEventListener("htmx:afterSwap", function (event) { refresh(event.detail.target); });
  document.addEventListener("inbox:content", function (event) { refresh(event.detail.parentNode || document); });
  window.setInterval(refresh, 30000);
})();
