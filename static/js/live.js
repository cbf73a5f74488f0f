// Live updates: one websocket per tab; server-rendered fragments are upserted by element id.
// On reconnect the page resynchronizes once (list and open thread) instead of trusting that it
// missed nothing.
(function () {
  "use strict";

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function processed(node) {
    if (window.htmx) window.htmx.process(node);
    document.dispatchEvent(new CustomEvent("inbox:content", { detail: node }));
    return node;
  }

  // Fragments carry data-version (their row's last change, "seconds.micro", fixed width): a late
  // HTTP response or event must not replace what a newer one already showed.
  function older(node, existing) {
    const a = node.dataset.version || "";
    const b = existing.dataset.version || "";
    return a.length === b.length ? a < b : a.length < b.length;
  }

  // Replace the element with the same id, or append to the container.
  function upsertInto(container, html) {
    const node = fragment(html);
    if (!node) return null;
    const existing = node.id && document.getElementById(node.id);
    if (existing && older(node, existing)) return existing;
    if (existing) existing.replaceWith(node);
    else container.appendChild(node);
    return processed(node);
  }

  function rowKey(row) {
    return [Number(row.dataset.ts || 0), Number(row.dataset.id || 0)];
  }

  function newer(a, b) {
    return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
  }

  // Conversation rows stay sorted newest first, whatever order events arrive in.
  function upsertRow(html) {
    const list = document.getElementById("conversation-list");
    if (!list) return;
    const node = fragment(html);
    if (!node) return;
    const existing = document.getElementById(node.id);
    if (existing && older(node, existing)) return;
    const wasSelected = existing && existing.classList.contains("selected");
    if (existing) existing.remove();
    if (wasSelected) node.classList.add("selected");
    else if (!existing) node.classList.add("fresh");
    const key = rowKey(node);
    let before = null;
    for (const row of list.querySelectorAll(":scope > .conv-row")) {
      if (newer(key, rowKey(row))) { before = row; break; }
    }
    if (!before) {
      // Older than every loaded row: it belongs to a page not loaded yet, unless nothing is.
      const loadMore = list.querySelector(":scope > .load-more");
      if (loadMore) return;
    }
    const empty = document.getElementById("empty-list");
    if (empty) empty.remove();
    list.insertBefore(node, before);
    processed(node);
  }

  // The open conversation's header (status, due time) follows the same event as its row.
  function replaceIfPresent(html) {
    const node = html && fragment(html);
    const existing = node && node.id && document.getElementById(node.id);
    if (existing && !older(node, existing)) { existing.replaceWith(node); processed(node); }
  }

  function upsertMessage(event) {
    const thread = document.getElementById("thread-" + event.conversation_id);
    if (thread) upsertInto(thread, event.html);
  }

  function markSelected() {
    const open = document.querySelector(".conversation[data-conversation-id]");
    const id = open ? open.dataset.conversationId : null;
    for (const row of document.querySelectorAll(".conv-row")) {
      row.classList.toggle("selected", row.dataset.id === id);
    }
  }

  function setState(state, label) {
    document.body.dataset.live = state;
    const indicator = document.getElementById("live-indicator");
    if (indicator) indicator.querySelector(".label").textContent = label;
  }

  function resync() {
    if (!window.htmx) return;
    const list = document.getElementById("conversation-list");
    if (list && list.dataset.resyncUrl) {
      window.htmx.ajax("GET", list.dataset.resyncUrl, { target: list, swap: "innerHTML" }).then(markSelected);
    }
    const open = document.querySelector(".conversation[data-thread-url]");
    if (open) window.htmx.ajax("GET", open.dataset.threadUrl, { target: "#conversation-pane", swap: "innerHTML" });
  }

  function start(workspace) {
    let attempts = 0;
    let connectedBefore = false;

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + workspace.dataset.liveUrl);
      socket.addEventListener("open", function () {
        attempts = 0;
        setState("connected", "Live");
        if (connectedBefore) resync();
        connectedBefore = true;
      });
      socket.addEventListener("message", function (message) {
        const event = JSON.parse(message.data);
        if (event.type === "conversation.changed") {
          upsertRow(event.html);
          replaceIfPresent(event.head_html);
          markSelected();
        }
        else if (event.type === "message.changed") upsertMessage(event);
      });
      socket.addEventListener("close", function (closed) {
        if (closed.code === 4401) { setState("offline", "Signed out"); return; }
        setState("offline", "Reconnecting…");
        attempts += 1;
        const delay = Math.min(30000, 500 * 2 ** Math.min(attempts, 6)) * (0.75 + Math.random() / 2);
        window.setTimeout(connect, delay);
      });
    }
    connect();
  }

  // Forms marked data-upsert-into put their response fragment into that container.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest("form[data-upsert-into]");
    if (!form || !event.detail.successful) return;
    const container = document.querySelector(form.dataset.upsertInto);
    if (container) upsertInto(container, event.detail.xhr.responseText);
  });
  document.addEventListener("htmx:afterSwap", markSelected);

  window.inboxLive = { upsertInto: upsertInto };
  document.addEventListener("DOMContentLoaded", function () {
    const workspace = document.querySelector("[data-live-url]");
    markSelected();
    if (workspace) start(workspace);
  });
})();
