// The composer: one form with a mode switch (reply, private reply, internal note), the length
// counter against the platform's limit (signature included), Ctrl/Cmd+Enter to send, cleared
// after a successful send, the server's refusal shown in place. Exposes
// window.inboxComposer.focus(mode) for the keyboard shortcuts (r, n).
(function () {
  "use strict";

  function modeOf(form) {
    const checked = form.querySelector("input[name=mode]:checked");
    return checked ? checked.value : "reply";
  }

  // X counts weighted characters (twitter-text v3, as channels_integrations/x/post_length.py):
  // Latin and common punctuation 1, everything else 2, a URL always 23, emoji modifiers and
  // joiners nothing extra. Other platforms count code points.
  const LIGHT = [[0x0000, 0x10FF], [0x2000, 0x200D], [0x2010, 0x201F], [0x2032, 0x2037]];
  function weightedLength(text) {
    let total = 0;
    const rest = text.normalize("NFC").replace(/https?:\/\/[^\s<>"]+/gi, function () { total += 23; return ""; });
    let joined = false;
    for (const char of rest) {
      const code = char.codePointAt(0);
      if (code === 0x200D) { joined = true; continue; }
      if ((code >= 0xFE0E && code <= 0xFE0F) || (code >= 0x1F3FB && code <= 0x1F3FF) || code === 0x20E3 || (code >= 0xE0020 && code <= 0xE007F)) continue;
      if (joined) { joined = false; continue; } // the rest of an emoji sequence
      total += LIGHT.some(function (range) { return code >= range[0] && code <= range[1]; }) ? 1 : 2;
    }
    return total;
  }

  function lengthOf(form, text) {
    return form.dataset.lengthRule === "x" ? weightedLength(text) : Array.from(text).length;
  }

  function update(form) {
    const textarea = form.querySelector("textarea");
    const counter = form.querySelector("[data-counter]");
    const button = form.querySelector("button[type=submit]");
    if (!textarea || !button) return;
    const length = lengthOf(form, textarea.value);
    if (modeOf(form) === "note") {
      // Notes never leave the inbox: no platform limit, no signature.
      if (counter) counter.hidden = true;
      button.disabled = textarea.value.trim().length === 0;
      return;
    }
    const max = Number(form.dataset.maxLength || 0);
    // The signature is appended on send; it counts against the limit like the text.
    const total = length + Number(form.dataset.signatureLength || 0);
    if (counter && max) {
      counter.hidden = false;
      counter.textContent = total + " / " + max;
      counter.classList.toggle("over", total > max);
    }
    button.disabled = textarea.value.trim().length === 0 || (max > 0 && total > max);
  }

  // The mode decides where the form posts, how it looks and what the button says.
  function applyMode(form) {
    const mode = modeOf(form);
    form.dataset.mode = mode;
    form.classList.toggle("composer-note", mode === "note");
    form.classList.toggle("composer-private", mode === "private");
    const url = mode === "note" ? form.dataset.noteUrl : form.dataset.replyUrl;
    if (url) form.setAttribute("action", url);
    const textarea = form.querySelector("textarea");
    const hint = textarea && textarea.dataset["placeholder" + mode.charAt(0).toUpperCase() + mode.slice(1)];
    if (hint) textarea.placeholder = hint;
    const button = form.querySelector("button[type=submit]");
    const label = button && button.dataset["label" + mode.charAt(0).toUpperCase() + mode.slice(1)];
    if (label) button.textContent = label;
    const signature = form.querySelector("[data-signature]");
    if (signature) signature.hidden = mode === "note";
    update(form);
  }

  function setMode(form, mode) {
    const radio = form.querySelector("input[name=mode][value=" + mode + "]") ||
      form.querySelector("input[name=mode][value=reply]") ||
      form.querySelector("input[name=mode]");
    if (radio) radio.checked = true;
    applyMode(form);
  }

  document.addEventListener("input", function (event) {
    const form = event.target.closest && event.target.closest("form.composer");
    if (form) update(form);
  });

  document.addEventListener("change", function (event) {
    if (event.target.name !== "mode") return;
    const form = event.target.closest("form.composer");
    if (form) applyMode(form);
  });

  // htmx read hx-post when the form was processed: the mode picks the URL per request.
  document.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form.composer")) return;
    const url = modeOf(form) === "note" ? form.dataset.noteUrl : form.dataset.replyUrl;
    if (url) event.detail.path = url;
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
      const mode = modeOf(form);
      form.reset();
      // A take-over counts for one reply only; the next one asks again.
      const takeOver = form.querySelector("input[name=take_over]");
      if (takeOver) takeOver.value = "";
      if (error) error.textContent = "";
      setMode(form, mode);
      form.querySelector("textarea").focus();
    } else if (error) {
      const text = (event.detail.xhr && event.detail.xhr.responseText) || "";
      error.textContent = text.trim() || gettext("The message could not be saved. Please try again.");
    }
  });

  function openComposer() {
    return document.querySelector(".conversation form.composer") || document.querySelector("form.composer");
  }

  window.inboxComposer = {
    // mode: "reply" | "private" | "note"; an unavailable mode falls back to what the form offers.
    focus: function (mode) {
      const form = openComposer();
      if (!form) return false;
      if (mode) setMode(form, mode);
      const textarea = form.querySelector("textarea");
      textarea.focus();
      return true;
    },
  };

  function init(root) {
    if (!root || !root.querySelectorAll) return;
    const forms = root.matches && root.matches("form.composer") ? [root] : root.querySelectorAll("form.composer");
    for (const form of forms) applyMode(form);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.detail.target); });
})();
