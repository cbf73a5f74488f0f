// Live updates: one websocket per tab; server-rendered fragments are upserted by element id.
//
// A conversation event carries the conversation's list facts ("facts") and, when they changed,
// what they were before ("was"). This module matches both against the open list's criteria and
// against every queue in the navigation (the same rules as inbox/queries.py's Criteria.q), so a
// row enters or leaves the list and the counts move without any request to the server.
// On reconnect the page resynchronizes once (navigation, list and open thread) instead of
// trusting that it missed nothing.
(function () {
  "use strict";

  // The Django JavaScript catalog (/jsi18n/) defines gettext; without it, English.
  function gettext(text) { return window.gettext ? window.gettext(text) : text; }

  // An event's fragments are in the site's language, with the other languages connected
  // browsers read under "i18n" (rendered once per language, never per browser): this page
  // takes the variant of the language it was rendered in.
  function localized(event) {
    const variants = event && event.i18n;
    if (!variants) return event;
    const lang = (document.documentElement.lang || "").toLowerCase();
    const own = variants[lang] || variants[lang.split("-")[0]];
    return own ? Object.assign({}, event, own) : event;
  }

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

  function depthOf(node) {
    const match = /(?:^|\s)depth-(\d)/.exec(node.className);
    return match ? Number(match[1]) : 0;
  }

  function setDepth(node, depth) {
    node.className = node.className.replace(/(^|\s)depth-\d/g, "") + " depth-" + Math.min(depth, 4);
  }

  // A comment reply goes after the last item nested under what it answers, one level deeper.
  function placeReply(container, node) {
    const parentId = node.dataset.parent;
    if (!parentId || !container.classList.contains("thread")) return false;
    const kind = container.className;
    if (kind.indexOf("thread-comment") < 0 && kind.indexOf("thread-mention") < 0) return false;
    const parent = container.querySelector('[data-external-id="' + CSS.escape(parentId) + '"]');
    if (!parent) return false;
    const level = depthOf(parent);
    setDepth(node, level + 1);
    let last = parent;
    while (last.nextElementSibling && last.nextElementSibling.classList.contains("msg") && depthOf(last.nextElementSibling) > level) {
      last = last.nextElementSibling;
    }
    last.after(node);
    return true;
  }

  // Replace the element with the same id, or add it to the container.
  function upsertInto(container, html) {
    const node = fragment(html);
    if (!node) return null;
    const existing = node.id && document.getElementById(node.id);
    if (existing && older(node, existing)) return existing;
    if (existing) {
      // Nesting is decided by the thread, not by the fragment (events render without it).
      if (existing.classList.contains("msg")) setDepth(node, depthOf(existing));
      existing.replaceWith(node);
    } else if (!placeReply(container, node)) {
      container.appendChild(node);
    }
    return processed(node);
  }

  // --- Criteria: which conversations a list or a queue holds --------------------------------

  function readJson(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  function includes(list, value) {
    return !list || list.length === 0 || list.indexOf(value) >= 0;
  }

  function matches(criteria, facts, workspace) {
    if (!includes(criteria.status, facts.status)) return false;
    if (criteria.unassigned) { if (facts.assignee !== null) return false; }
    else if (!includes(criteria.assignee, facts.assignee)) return false;
    if (criteria.department && criteria.department.length) {
      const routed = criteria.department.indexOf(facts.department) >= 0;
      const unrouted = facts.department === null && criteria.department.some(function (id) {
        const channels = (workspace.departments || {})[String(id)] || [];
        return channels.indexOf(facts.channel) >= 0;
      });
      if (!routed && !unrouted) return false;
    }
    if (criteria.mentioned !== null && criteria.mentioned !== undefined && facts.mentioned.indexOf(criteria.mentioned) < 0) return false;
    if (criteria.awaiting_approval && !facts.awaiting_approval) return false;
    if (!includes(criteria.channel, facts.channel)) return false;
    if (!includes(criteria.platform, facts.platform)) return false;
    if (!includes(criteria.priority, facts.priority)) return false;
    if (!includes(criteria.language, facts.language)) return false;
    if (!includes(criteria.sentiment, facts.sentiment)) return false;
    if (criteria.tag && criteria.tag.length && !criteria.tag.some(function (t) { return facts.tag.indexOf(t) >= 0; })) return false;
    if (criteria.post && (criteria.post[0] !== facts.post[0] || criteria.post[1] !== facts.post[1])) return false;
    return true;
  }

  // The facts before the change: none for a new conversation; unchanged fields from after.
  function factsBefore(event) {
    if (event.created) return null;
    return Object.assign({}, event.facts, event.was || {});
  }

  function updateCounts(event) {
    const workspace = readJson("workspace-live");
    if (!workspace || !event.facts) return;
    const before = factsBefore(event);
    for (const key of Object.keys(workspace.queues || {})) {
      const criteria = workspace.queues[key];
      if (!criteria.live) continue;
      const was = before !== null && matches(criteria, before, workspace);
      const now = matches(criteria, event.facts, workspace);
      if (was === now) continue;
      for (const counter of document.querySelectorAll('[data-count-for="' + CSS.escape(key) + '"]')) {
        const value = Math.max(0, Number(counter.textContent || 0) + (now ? 1 : -1));
        counter.textContent = String(value);
        counter.classList.toggle("zero", value === 0);
        counter.classList.remove("bumped");
        void counter.offsetWidth; // restart the highlight
        counter.classList.add("bumped");
      }
    }
  }

  // --- The list ---------------------------------------------------------------------------

  function sortKey(row, sort) {
    const raw = row.dataset["sort" + sort.charAt(0).toUpperCase() + sort.slice(1)] || "";
    return raw === "" ? null : BigInt(raw);
  }

  // Whether row a comes before row b in the list's order (ties: id, like the server).
  function before(a, b, sort) {
    const ka = sortKey(a, sort);
    const kb = sortKey(b, sort);
    const ia = Number(a.dataset.id);
    const ib = Number(b.dataset.id);
    if (sort === "newest") {
      if (ka !== kb) return ka > kb;
      return ia > ib;
    }
    if (ka === null && kb === null) return ia < ib;
    if (ka === null) return false;
    if (kb === null) return true;
    if (ka !== kb) return ka < kb;
    return ia < ib;
  }

  function upsertRow(event) {
    const list = document.getElementById("conversation-list");
    if (!list) return;
    const node = fragment(event.html);
    if (!node) return;
    const existing = document.getElementById(node.id);
    if (existing && older(node, existing)) return;
    const criteria = readJson("list-criteria");
    const workspace = readJson("workspace-live") || {};
    const belongs = !criteria || !event.facts || matches(criteria, event.facts, workspace);
    if (criteria && !criteria.live && !existing) return; // a search result list: not guessed
    if (!belongs && !(criteria && !criteria.live)) {
      if (!existing) return;
      if (existing.classList.contains("selected")) {
        // The open conversation stays until the agent moves on; it just shows its new state.
        node.classList.add("selected", "leaving");
        existing.replaceWith(node);
        processed(node);
      } else {
        existing.remove();
      }
      return;
    }
    const wasSelected = existing && existing.classList.contains("selected");
    const wasCursor = existing && existing.classList.contains("cursor");
    const wasChecked = existing && existing.querySelector(".row-select:checked");
    if (existing) existing.remove();
    if (wasSelected) node.classList.add("selected");
    if (wasCursor) node.classList.add("cursor");
    if (wasChecked) { node.classList.add("checked"); node.querySelector(".row-select").checked = true; }
    if (!existing) node.classList.add("fresh");
    const sort = list.dataset.sort || "newest";
    let next = null;
    for (const row of list.querySelectorAll(":scope > .conv-row")) {
      if (before(node, row, sort)) { next = row; break; }
    }
    if (!next && list.querySelector(":scope > .load-more")) return; // belongs to a later page
    const empty = document.getElementById("empty-list");
    if (empty) empty.remove();
    list.insertBefore(node, next || list.querySelector(":scope > .load-more"));
    processed(node);
  }

  // The open conversation's header (status, due time) follows the same event as its row.
  function replaceIfPresent(html) {
    const node = html && fragment(html);
    const existing = node && node.id && document.getElementById(node.id);
    if (existing && !older(node, existing)) { existing.replaceWith(node); processed(node); }
  }

  function upsertThreadItem(event) {
    const thread = document.getElementById("thread-" + event.conversation_id);
    if (thread) upsertInto(thread, event.html);
  }

  function markSelected() {
    const open = document.querySelector(".conversation[data-conversation-id]");
    const id = open ? open.dataset.conversationId : null;
    for (const row of document.querySelectorAll(".conv-row")) {
      row.classList.toggle("selected", row.dataset.id === id);
      if (row.dataset.id !== id) row.classList.remove("leaving");
    }
    const workspace = document.querySelector(".workspace");
    if (workspace) workspace.classList.toggle("has-conversation", Boolean(id));
  }

  let liveState = ["off", gettext("Offline")];

  function setState(state, label) {
    liveState = [state, label];
    document.body.dataset.live = state;
    const indicator = document.getElementById("live-indicator");
    if (indicator) indicator.querySelector(".label").textContent = label;
  }

  // Back and forward re-render the page from the server (no history cache): the top bar comes
  // back as "Offline" while this tab's socket is still open, so its state is written again.
  document.addEventListener("htmx:historyRestore", function () { setState(liveState[0], liveState[1]); });

  function resync() {
    if (!window.htmx) return;
    const nav = document.getElementById("nav-pane");
    if (nav && nav.dataset.refreshUrl) window.htmx.ajax("GET", nav.dataset.refreshUrl, { target: nav, swap: "innerHTML" });
    const list = document.getElementById("conversation-list");
    if (list && list.dataset.resyncUrl) {
      window.htmx.ajax("GET", list.dataset.resyncUrl, { target: "#list-pane", swap: "innerHTML" }).then(markSelected);
    }
    const open = document.querySelector(".conversation[data-thread-url]");
    if (open) window.htmx.ajax("GET", open.dataset.threadUrl, { target: "#conversation-pane", swap: "innerHTML" });
  }

  let socket = null;

  function start(workspace) {
    let attempts = 0;
    let connectedBefore = false;

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + workspace.dataset.liveUrl);
      socket.addEventListener("open", function () {
        attempts = 0;
        setState("connected", gettext("Live"));
        if (connectedBefore) resync();
        connectedBefore = true;
        document.dispatchEvent(new CustomEvent("inbox:connected"));
      });
      socket.addEventListener("message", function (message) {
        let event;
        try { event = localized(JSON.parse(message.data)); } catch (error) { return; }
        if (event.type === "conversation.changed") {
          updateCounts(event);
          upsertRow(event);
          replaceIfPresent(event.head_html);
          markSelected();
        } else if (event.type === "message.changed" || event.type === "note.changed") {
          upsertThreadItem(event);
        } else if (event.type === "groups.changed") {
          resync(); // what this user may see changed: lists, counts and thread start afresh
        } else if (event.type === "resync") {
          // The server lost events meant for this page (a Redis outage). Every open page hears
          // this at once: spread the reloads over a few seconds rather than all in one.
          window.setTimeout(resync, Math.random() * 5000);
        }
        document.dispatchEvent(new CustomEvent("inbox:live", { detail: event }));
      });
      socket.addEventListener("close", function (closed) {
        socket = null;
        if (closed.code === 4401) { setState("offline", gettext("Signed out")); return; }
        setState("offline", gettext("Reconnecting…"));
        attempts += 1;
        const delay = Math.min(30000, 500 * 2 ** Math.min(attempts, 6)) * (0.75 + Math.random() / 2);
        window.setTimeout(connect, delay);
      });
    }
    connect();
  }

  function send(payload) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(payload));
    return true;
  }

  // Forms marked data-upsert-into put their response fragment into that container.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest("form[data-upsert-into]");
    if (!form || !event.detail.successful) return;
    const container = document.querySelector(form.dataset.upsertInto);
    if (container) upsertInto(container, event.detail.xhr.responseText);
  });

  // A refused conversation action shows the server's reason beside the controls.
  document.addEventListener("htmx:responseError", function (event) {
    const controls = event.detail.elt.closest && event.detail.elt.closest(".conv-controls, .conv-head, .review-actions");
    if (!controls) return;
    const conversation = controls.closest(".conversation");
    const slot = controls.querySelector(".review-error") || (conversation && conversation.querySelector(".control-error"));
    if (slot) slot.textContent = (event.detail.xhr.responseText || gettext("That did not work.")).replace(/<[^>]*>/g, "").trim();
  });

  // Opening a conversation keeps the list's queue and filters in the address, so a reload
  // shows the same list beside it.
  document.addEventListener("htmx:configRequest", function (event) {
    const link = event.detail.elt;
    if (!link.classList || !link.classList.contains("conv-link")) return;
    const state = document.getElementById("list-state");
    if (state && state.dataset.params) event.detail.path = link.getAttribute("href") + "?" + state.dataset.params;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    markSelected();
    if (event.detail.target && event.detail.target.id === "list-pane") {
      const state = document.getElementById("list-state");
      const queue = state ? state.dataset.queue : "";
      for (const link of document.querySelectorAll(".nav-pane .queue")) {
        const current = link.dataset.queue === queue;
        link.classList.toggle("current", current);
        if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
      }
      const nav = document.getElementById("nav-pane");
      if (nav && state) nav.dataset.refreshUrl = nav.dataset.refreshUrl.split("&")[0] + "&" + state.dataset.params;
    }
  });

  window.inboxLive = { upsertInto: upsertInto, send: send, matches: matches, localized: localized };
  document.addEventListener("DOMContentLoaded", function () {
    const workspace = document.querySelector("[data-live-url]");
    markSelected();
    if (workspace) start(workspace);
  });
})();
