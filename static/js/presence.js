// Presence and the reply collision guard.
//
// Tells the live socket (live.js: window.inboxLive.send, "inbox:live" and "inbox:connected"
// events) which conversation this tab has open and whether the agent is writing a reply; shows
// who else is viewing it in #presence-<id>; and while a colleague holds the reply (started
// writing first), keeps the composer's send button disabled next to "X is replying — Take over".
// Taking over is explicit: it tells the server, and the form carries take_over=1 so the reply
// view records it even if the socket was down. Names are only ever set with textContent.
(function () {
  "use strict";

  const HEARTBEAT_MS = 20000;
  const COMPOSING_RESEND_MS = 15000;

  let me = null; // this user's id, from the socket's hello
  let viewing = null; // the conversation id (a string) the server was told this tab views
  let composing = false; // the server was told this tab is writing a reply
  let composingSentAt = 0;
  const state = {}; // conversation id -> its latest presence event
  const tookOver = {}; // conversation id -> this tab took the reply over
  const notices = {}; // conversation id -> "Y took over the reply." told by the server

  function send(message) {
    const live = window.inboxLive;
    return Boolean(live && typeof live.send === "function" && live.send(message));
  }

  function openConversation() {
    return document.querySelector(".conversation[data-conversation-id]");
  }

  function composerOf(id) {
    for (const article of document.querySelectorAll(".conversation[data-conversation-id]")) {
      if (article.dataset.conversationId === id) return article.querySelector("form.composer");
    }
    return null;
  }

  // An internal note is not a reply: it neither holds the reply nor is held up by one.
  function writesReply(form) {
    const checked = form.querySelector("input[name=mode]:checked");
    return (checked ? checked.value : form.dataset.mode || "reply") !== "note";
  }

  function replyText(form) {
    const textarea = form && writesReply(form) && form.querySelector("textarea");
    return textarea ? textarea.value.trim() : "";
  }

  // Views -----------------------------------------------------------------------------------

  function syncView(force) {
    const open = openConversation();
    const id = open ? open.dataset.conversationId : null;
    if (id === viewing && !force) return;
    // Viewing another conversation (or none) ends composing in the previous one on the server.
    composing = false;
    if (id) {
      viewing = send({ type: "view", conversation_id: Number(id) }) ? id : null;
      if (viewing) updateComposing(true);
    } else {
      if (viewing !== null) send({ type: "leave" });
      viewing = null;
    }
  }

  // Composing -------------------------------------------------------------------------------

  function updateComposing(resend) {
    const open = openConversation();
    const form = open && open.querySelector("form.composer");
    const writing = Boolean(viewing && form && replyText(form));
    const now = Date.now();
    if (writing) {
      // Re-sent while typing so a long reply keeps its hold; the server keeps the first start.
      if (!composing || resend || now - composingSentAt >= COMPOSING_RESEND_MS) {
        if (send({ type: "composing", on: true })) {
          composing = true;
          composingSentAt = now;
        }
      }
    } else if (composing) {
      send({ type: "composing", on: false });
      composing = false;
    }
  }

  function stopComposing() {
    if (composing) send({ type: "composing", on: false });
    composing = false;
  }

  // Rendering -------------------------------------------------------------------------------

  function initials(name) {
    const words = name.trim().split(/\s+/).filter(Boolean);
    const letters = words.slice(0, 2).map(function (word) { return Array.from(word)[0]; });
    return (letters.join("") || "?").toUpperCase();
  }

  function viewerName(event, id) {
    for (const viewer of event.viewers) if (viewer.id === id) return viewer.name;
    return gettext("A colleague");
  }

  function renderViewers(id) {
    const box = document.getElementById("presence-" + id);
    const event = state[id];
    if (!box || !event) return;
    box.textContent = "";
    const others = event.viewers.filter(function (viewer) { return viewer.id !== me; });
    if (!others.length) return;
    const label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = gettext("Also viewing:");
    box.appendChild(label);
    for (const viewer of others) {
      const item = document.createElement("span");
      item.className = "presence-viewer" + (viewer.composing ? " composing" : "");
      item.title = viewer.name;
      const avatar = document.createElement("span");
      avatar.className = "presence-avatar";
      avatar.setAttribute("aria-hidden", "true");
      avatar.textContent = initials(viewer.name);
      const name = document.createElement("span");
      name.className = "presence-name";
      name.textContent = viewer.composing ? interpolate(gettext("%(name)s is replying…"), { name: viewer.name }, true) : viewer.name;
      item.appendChild(avatar);
      item.appendChild(name);
      box.appendChild(item);
    }
  }

  function holderName(id) {
    const event = state[id];
    if (!event || event.holder === null || event.holder === undefined) return null;
    if (me === null || event.holder === me || tookOver[id]) return null;
    return viewerName(event, event.holder);
  }

  // The composer of a conversation whose reply a colleague holds cannot send (composer.js
  // enables the button on every input; this runs after it and disables it again).
  function guard(id) {
    const form = composerOf(id);
    if (!form) return;
    const button = form.querySelector("button[type=submit]");
    const holder = writesReply(form) ? holderName(id) : null;
    let notice = form.querySelector(".presence-guard");
    if (!holder) {
      if (notice) notice.remove();
      if (form.dataset.replyHeld) {
        delete form.dataset.replyHeld;
        // Let composer.js decide the button again (length limits).
        const textarea = form.querySelector("textarea");
        if (textarea) textarea.dispatchEvent(new Event("input", { bubbles: true }));
        else if (button) button.disabled = false;
      }
      return;
    }
    form.dataset.replyHeld = "1";
    if (button) button.disabled = true;
    if (!notice) {
      notice = document.createElement("span");
      notice.className = "presence-guard";
      notice.setAttribute("role", "status");
      const text = document.createElement("span");
      text.className = "presence-guard-text";
      const takeOver = document.createElement("button");
      takeOver.type = "button";
      takeOver.className = "presence-take-over";
      takeOver.textContent = gettext("Take over");
      notice.appendChild(text);
      notice.appendChild(takeOver);
      if (button && button.parentNode) button.parentNode.insertBefore(notice, button);
      else form.appendChild(notice);
    }
    notice.querySelector(".presence-guard-text").textContent =
      (notices[id] || interpolate(gettext("%(name)s is replying"), { name: holder }, true)) + " \u2014 ";
  }

  function render(id) {
    renderViewers(id);
    guard(id);
  }

  function renderAll() {
    for (const id of Object.keys(state)) render(id);
  }

  function takeOver(form) {
    const article = form.closest(".conversation[data-conversation-id]");
    if (!article) return;
    const id = article.dataset.conversationId;
    send({ type: "take_over", conversation_id: Number(id) });
    let input = form.querySelector("input[name=take_over]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "take_over";
      form.appendChild(input);
    }
    input.value = "1";
    tookOver[id] = true;
    delete notices[id];
    guard(id);
    const textarea = form.querySelector("textarea");
    if (textarea) textarea.focus();
  }

  function afterSent(form) {
    const article = form.closest(".conversation[data-conversation-id]");
    const input = form.querySelector("input[name=take_over]");
    if (input) input.value = "";
    if (article) {
      delete tookOver[article.dataset.conversationId];
      delete notices[article.dataset.conversationId];
    }
    stopComposing();
  }

  // Events ----------------------------------------------------------------------------------

  document.addEventListener("inbox:live", function (message) {
    const event = message.detail || {};
    if (event.type === "hello") {
      me = event.user_id === undefined ? null : event.user_id;
      renderAll();
    } else if (event.type === "presence") {
      const id = String(event.conversation_id);
      // Only what this page shows is kept; a conversation opened later gets a fresh event.
      if (document.getElementById("presence-" + id) || composerOf(id)) {
        state[id] = event;
        const mine = event.viewers.filter(function (viewer) { return viewer.id === me; });
        // A colleague's take-over cleared this tab's flag: the next keystroke sets it again.
        if (id === viewing && mine.length && !mine[0].composing) composing = false;
        // The server sends the take-over notice before the list that follows it: a list
        // where nobody else holds the reply makes the notice old news.
        if (event.holder === null || event.holder === me) delete notices[id];
        render(id);
      } else {
        delete state[id];
      }
    } else if (event.type === "presence.taken_over") {
      const id = String(event.conversation_id);
      delete tookOver[id];
      notices[id] = event.message;
      if (id === viewing) composing = false;
      guard(id);
    }
  });

  document.addEventListener("inbox:connected", function () {
    // A new connection has no presence on the server yet.
    viewing = null;
    composing = false;
    syncView(true);
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("form.composer textarea")) return;
    updateComposing(false);
    const article = event.target.closest(".conversation[data-conversation-id]");
    if (article) guard(article.dataset.conversationId);
  });

  // Switching between reply and note (composer.js re-enables the button on it).
  document.addEventListener("change", function (event) {
    if (event.target.name !== "mode") return;
    const article = event.target.closest(".conversation[data-conversation-id]");
    if (!article) return;
    if (article.dataset.conversationId === viewing) updateComposing(false);
    guard(article.dataset.conversationId);
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest(".presence-take-over");
    const form = button && button.closest("form.composer");
    if (!form) return;
    event.preventDefault();
    takeOver(form);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form.composer")) return;
    if (event.detail.successful) afterSent(form);
    const article = form.closest(".conversation[data-conversation-id]");
    if (article) guard(article.dataset.conversationId);
  });

  function refresh() {
    syncView(false);
    renderAll();
  }
  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("htmx:historyRestore", refresh);
  // live.js replaces the conversation header (where #presence-<id> lives) on every change.
  document.addEventListener("inbox:content", renderAll);
  document.addEventListener("DOMContentLoaded", function () { syncView(false); });

  window.setInterval(function () { send({ type: "ping" }); }, HEARTBEAT_MS);
})();
