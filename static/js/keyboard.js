// Keyboard triage and bulk selection in the workspace.
//
// j/k move a cursor through the list, Enter (or o) opens, x selects for bulk actions,
// r/p/n write a reply / private reply / note, a assigns, e resolves and moves on, h hides the
// latest visible comment, / searches, ? shows the help. Keys typed into fields are left alone.
(function () {
  "use strict";

  function rows() {
    return Array.from(document.querySelectorAll("#conversation-list > .conv-row"));
  }

  function cursorRow() {
    return document.querySelector("#conversation-list > .conv-row.cursor") ||
      document.querySelector("#conversation-list > .conv-row.selected");
  }

  function setCursor(row) {
    for (const other of document.querySelectorAll(".conv-row.cursor")) other.classList.remove("cursor");
    if (!row) return;
    row.classList.add("cursor");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(cursorRow());
    const next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    setCursor(next);
  }

  function open(row) {
    if (!row) return;
    const link = row.querySelector(".conv-link");
    if (link) link.click();
  }

  function openConversation() {
    return document.querySelector(".conversation[data-conversation-id]");
  }

  function focusComposer(mode) {
    if (window.inboxComposer && window.inboxComposer.focus) { window.inboxComposer.focus(mode); return; }
    const conversation = openConversation();
    const textarea = conversation && conversation.querySelector("form.composer textarea");
    if (textarea) textarea.focus();
  }

  function resolveAndNext() {
    const conversation = openConversation();
    if (!conversation) return;
    const button = conversation.querySelector("[data-shortcut=resolve]");
    if (!button) return;
    const all = rows();
    const current = all.find(function (row) { return row.dataset.id === conversation.dataset.conversationId; });
    const index = all.indexOf(current);
    const next = index >= 0 ? (all[index + 1] || all[index - 1]) : null;
    button.closest("form").requestSubmit();
    if (next) { setCursor(next); open(next); }
  }

  function hideLatest() {
    const conversation = openConversation();
    if (!conversation) return;
    const buttons = conversation.querySelectorAll(".msg-inbound .action-hide");
    const last = buttons[buttons.length - 1];
    if (last) last.closest("form").requestSubmit();
  }

  function focusAssign() {
    const conversation = openConversation();
    const select = conversation && conversation.querySelector("[data-shortcut=assign]");
    if (!select) return;
    select.focus();
    if (typeof select.showPicker === "function") { try { select.showPicker(); } catch (error) { /* not allowed here */ } }
  }

  function showHelp() {
    const dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable=true], dialog[open]"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target) && event.target.blur) {
      if (!event.target.closest("dialog")) event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const handlers = {
      j: function () { move(1); },
      k: function () { move(-1); },
      Enter: function () { open(cursorRow()); },
      o: function () { open(cursorRow()); },
      x: function () { toggleRow(cursorRow()); },
      r: function () { focusComposer("reply"); },
      p: function () { focusComposer("private"); },
      n: function () { focusComposer("note"); },
      a: focusAssign,
      e: resolveAndNext,
      h: hideLatest,
      "/": function () { const search = document.getElementById("list-search"); if (search) search.focus(); },
      "?": showHelp,
    };
    const handler = handlers[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  });

  // "Reply" and "Private reply" on an item: the composer answers that item.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-reply-to]");
    if (!button) return;
    const conversation = button.closest(".conversation");
    const form = conversation && conversation.querySelector("form.composer");
    if (!form) return;
    const target = form.querySelector("[name=in_reply_to]");
    if (target) target.value = button.dataset.replyTo;
    let label = form.querySelector(".reply-target");
    if (!label) {
      label = document.createElement("div");
      label.className = "reply-target";
      form.prepend(label);
    }
    const answering = button.dataset.author
      ? interpolate(gettext("Answering %(name)s"), { name: button.dataset.author }, true)
      : gettext("Answering this item");
    label.textContent = answering + " ";
    const clear = document.createElement("button");
    clear.type = "button";
    clear.className = "link-button";
    clear.textContent = "×";
    clear.setAttribute("aria-label", gettext("Answer the conversation instead"));
    clear.addEventListener("click", function () { if (target) target.value = ""; label.remove(); });
    label.appendChild(clear);
    focusComposer(button.dataset.mode || "reply");
  });

  // --- Bulk selection ------------------------------------------------------------------------

  function selectedIds() {
    return Array.from(document.querySelectorAll("#conversation-list .row-select:checked")).map(function (box) { return box.value; });
  }

  function refreshSelection() {
    const ids = selectedIds();
    const bar = document.getElementById("bulk-bar");
    const count = document.getElementById("selection-count");
    const field = document.getElementById("bulk-ids");
    if (bar) bar.hidden = ids.length === 0;
    if (count) {
      count.textContent = ids.length
        ? interpolate(ngettext("%(count)s selected", "%(count)s selected", ids.length), { count: ids.length }, true)
        : "";
    }
    if (field) field.value = ids.join(",");
    for (const row of rows()) {
      const box = row.querySelector(".row-select");
      row.classList.toggle("checked", Boolean(box && box.checked));
    }
  }

  function toggleRow(row) {
    const box = row && row.querySelector(".row-select");
    if (!box) return;
    box.checked = !box.checked;
    refreshSelection();
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-snooze-select]")) {
      // A preset snoozes at once; "a time I choose" opens the date field instead.
      const custom = event.target.form.querySelector(".snooze-custom");
      if (event.target.value === "custom") { custom.hidden = false; custom.querySelector("input").focus(); }
      else event.target.form.requestSubmit();
      return;
    }
    if (event.target.id === "bulk-action") {
      // Only the value field of the chosen action is sent (and shown).
      for (const field of document.querySelectorAll("[data-bulk-for]")) {
        const wanted = field.dataset.bulkFor === event.target.value;
        field.disabled = !wanted;
        field.hidden = !wanted;
      }
      return;
    }
    if (event.target.id === "select-all") {
      for (const box of document.querySelectorAll("#conversation-list .row-select")) box.checked = event.target.checked;
      refreshSelection();
    } else if (event.target.classList && event.target.classList.contains("row-select")) {
      refreshSelection();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.id !== "bulk-bar" || !event.detail.successful) return;
    for (const box of document.querySelectorAll("#conversation-list .row-select:checked")) box.checked = false;
    const all = document.getElementById("select-all");
    if (all) all.checked = false;
    refreshSelection();
    document.getElementById("bulk-bar").hidden = false; // keep the result line visible
  });

  // Refusals (a wrong value, nothing selected) are shown where the agent looks.
  document.addEventListener("htmx:responseError", function (event) {
    const slots = { "bulk-bar": "bulk-result" };
    const form = event.detail.elt.closest && event.detail.elt.closest("#bulk-bar, form.save-view");
    if (!form) return;
    const slot = document.getElementById(form.id === "bulk-bar" ? slots["bulk-bar"] : "save-view-error");
    if (slot) slot.textContent = (event.detail.xhr.responseText || gettext("That did not work.")).replace(/<[^>]*>/g, "").trim();
  });

  document.addEventListener("htmx:afterSwap", refreshSelection);
})();
