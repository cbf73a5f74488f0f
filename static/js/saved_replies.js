// Saved replies in the composer: typing "/" (at the start or after a space) opens a picker of
// the saved replies matching what follows it; ↑/↓ choose, Enter or Tab inserts the text at the
// "/" (placeholders already filled by the server for this conversation), Esc closes. Results
// come as JSON and are put in with textContent only: titles and texts are written by people.
(function () {
  "use strict";

  const TRIGGER = /(^|\s)\/([^\s/]{0,40})$/;
  const DELAY_MS = 120;

  let state = null; // { form, textarea, picker, start, results, active, sequence }
  let timer = 0;
  let sequence = 0;

  function composerOf(textarea) {
    const form = textarea.closest && textarea.closest("form.composer[data-saved-replies-url]");
    if (!form || form.dataset.mode === "note") return null;
    return form;
  }

  function pickerOf(form) {
    return form.querySelector(".saved-reply-picker");
  }

  function close() {
    window.clearTimeout(timer);
    if (!state) return;
    state.picker.hidden = true;
    state.picker.textContent = "";
    state.textarea.setAttribute("aria-expanded", "false");
    state.textarea.removeAttribute("aria-activedescendant");
    state = null;
  }

  // The "/" and query before the caret, if the caret is in a "/word".
  function trigger(textarea) {
    if (textarea.selectionStart !== textarea.selectionEnd) return null;
    const before = textarea.value.slice(0, textarea.selectionStart);
    const match = TRIGGER.exec(before);
    if (!match) return null;
    return { start: before.length - match[2].length - 1, query: match[2] };
  }

  function optionId(form, index) {
    return form.querySelector("textarea").id + "-saved-" + index;
  }

  function render() {
    const picker = state.picker;
    picker.textContent = "";
    if (!state.results.length) {
      const empty = document.createElement("li");
      empty.className = "saved-reply-empty";
      empty.textContent = state.query
        ? interpolate(gettext("No saved reply matches “%(query)s”."), { query: state.query }, true)
        : gettext("No saved replies yet.");
      picker.appendChild(empty);
    }
    state.results.forEach(function (result, index) {
      const item = document.createElement("li");
      item.id = optionId(state.form, index);
      item.className = "saved-reply-option";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === state.active ? "true" : "false");
      item.dataset.index = String(index);

      const head = document.createElement("div");
      head.className = "saved-reply-head";
      const title = document.createElement("span");
      title.className = "saved-reply-title";
      title.textContent = result.title;
      const shortcut = document.createElement("code");
      shortcut.className = "saved-reply-shortcut";
      shortcut.textContent = "/" + result.shortcut;
      const variant = document.createElement("span");
      variant.className = "saved-reply-variant";
      variant.textContent = result.language + (result.tone ? " · " + result.tone : "");
      head.append(title, shortcut, variant);

      const preview = document.createElement("div");
      preview.className = "saved-reply-preview";
      preview.textContent = result.preview;

      item.append(head, preview);
      picker.appendChild(item);
    });
    picker.hidden = false;
    state.textarea.setAttribute("aria-expanded", "true");
    if (state.results.length) {
      state.textarea.setAttribute("aria-activedescendant", optionId(state.form, state.active));
      const active = picker.querySelector("[aria-selected=true]");
      if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
    } else {
      state.textarea.removeAttribute("aria-activedescendant");
    }
  }

  function search(form, textarea, found) {
    const mine = ++sequence;
    const url = form.dataset.savedRepliesUrl + "?q=" + encodeURIComponent(found.query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("saved replies: HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        // A slower answer to an older query must not replace a newer one.
        if (mine !== sequence || document.activeElement !== textarea) return;
        const still = trigger(textarea);
        if (!still || still.start !== found.start) return;
        state = {
          form: form,
          textarea: textarea,
          picker: pickerOf(form),
          start: found.start,
          query: found.query,
          results: Array.isArray(data.results) ? data.results : [],
          active: 0,
        };
        render();
      })
      .catch(function () { close(); });
  }

  function insert(index) {
    if (!state || !state.results[index]) return;
    const textarea = state.textarea;
    const text = state.results[index].text;
    const value = textarea.value;
    const caret = textarea.selectionStart;
    const start = state.start;
    close();
    textarea.value = value.slice(0, start) + text + value.slice(caret);
    const at = start + text.length;
    textarea.setSelectionRange(at, at);
    textarea.focus();
    // The composer's counter and the presence "typing" signal listen to input events.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("input", function (event) {
    const textarea = event.target;
    if (!textarea || textarea.tagName !== "TEXTAREA") return;
    const form = composerOf(textarea);
    if (!form) return;
    const found = trigger(textarea);
    if (!found) { close(); return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { search(form, textarea, found); }, DELAY_MS);
  });

  // Capture phase: while the picker is open, these keys are the picker's, not the textarea's
  // (Enter would add a line) nor the page's shortcuts (Esc would close the conversation).
  document.addEventListener("keydown", function (event) {
    if (!state || event.target !== state.textarea) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const count = state.results.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!count) return;
      state.active = (state.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      render();
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
      if (!count) { close(); return; }
      insert(state.active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);

  // Keep the textarea focused while an option is clicked.
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest(".saved-reply-picker")) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    const option = event.target.closest && event.target.closest(".saved-reply-option");
    if (option && state && state.picker.contains(option)) insert(Number(option.dataset.index));
  });

  document.addEventListener("focusout", function (event) {
    if (state && event.target === state.textarea) close();
  });

  document.addEventListener("change", function (event) {
    if (event.target.name === "mode") close();
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (state && event.detail.elt === state.form) close();
  });
})();
