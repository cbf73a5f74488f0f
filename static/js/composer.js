// The reply composer: length counter against the platform's limit, Ctrl/Cmd+Enter to send,
// cleared after a successful send, the server's refusal shown in place.
(function () {
  "use strict";

  function update(form) {
    const textarea = form.querySelector("textarea");
    const counter = form.querySelector("[data-counter]");
    const max = Number(form.dataset.maxLength || 0);
    if (!textarea || !counter || !max) return;
    const length = Array.from(textarea.value).length;
    counter.textContent = length + " / " + max;
    counter.classList.toggle("over", length > max);
    form.querySelector("button[type=submit]").disabled = length === 0 || length > max;
  }

  document.addEventListener("input", function (event) {
    const form = event.target.closest("form.composer");
    if (form) update(form);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const form = event.target.closest && event.target.closest("form.composer");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (!button.disabled) form.requestSubmit();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form.composer")) return;
    const error = form.querySelector("[data-error]");
    if (event.detail.successful) {
      form.reset();
      if (error) error.textContent = "";
      update(form);
      form.querySelector("textarea").focus();
    } else if (error) {
      const text = (event.detail.xhr && event.detail.xhr.responseText) || "";
      error.textContent = text.trim() || "The reply could not be saved. Please try again.";
    }
  });

  function init(root) {
    for (const form of root.querySelectorAll("form.composer")) update(form);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.detail.target); });
})();
