// The moderation queue: live rows, bulk selection and keyboard decisions.
//
// The page carries data-live-url, so live.js opens the socket here too; its events arrive as
// "inbox:live" document events. A "moderation.case" event carries the case's rendered row
// (pending) or its decided summary: rows are upserted or retired without any request to the
// server. Rows come with their buttons; they are removed here for channels this user may only
// read (the server refuses those actions anyway). After a reconnect the list is fetched once.
(function () {
  "use strict";

  function page() { return document.getElementById("moderation-queue"); }

  function filters() {
    const node = document.getElementById("moderation-filters");
    if (!node) return {};
    try { return JSON.parse(node.textContent) || {}; } catch (error) { return {}; }
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = (html || "").trim();
    return template.content.firstElementChild;
  }

  function processed(node) {
    if (window.htmx) window.htmx.process(node);
    return node;
  }

  function mayAct(channel) {
    const acting = filters().acting;
    return acting === null || acting === undefined || acting.indexOf(channel) >= 0;
  }

  function stripIfReadOnly(node, channel) {
    if (mayAct(channel)) return;
    for (const part of node.querySelectorAll(".mod-actions, .case-check")) part.remove();
  }

  function older(node, existing) {
    const a = node.dataset.version || "";
    const b = existing.dataset.version || "";
    return a.length === b.length ? a < b : a.length < b.length;
  }

  function matches(event, wanted) {
    if (wanted.channel && wanted.channel !== event.channel) return false;
    if (wanted.reason && event.facts.reasons.indexOf(wanted.reason) < 0) return false;
    if (wanted.auto === "hidden" && event.facts.auto !== "hide") return false;
    if (wanted.auto === "deleted" && event.facts.auto !== "delete") return false;
    if (wanted.auto === "queued" && (event.facts.auto || event.facts.suggested)) return false;
    if (wanted.auto === "suggested" && !event.facts.suggested) return false;
    return true;
  }

  // Each decision moves the pending count once, whether it came from this tab or another.
  const counted = new Set();

  function bumpCount(step) {
    const counter = document.getElementById("mod-pending-count");
    if (!counter) return;
    counter.textContent = String(Math.max(0, Number(counter.textContent || 0) + step));
  }

  function decided(caseId) {
    if (counted.has(caseId)) return;
    counted.add(caseId);
    bumpCount(-1);
  }

  function retire(row) {
    row.classList.add("leaving");
    const box = row.querySelector(".case-check input");
    if (box) box.checked = false;
    window.setTimeout(function () { row.remove(); syncBulk(); }, 4000);
  }

  // Where a new pending row goes: by severity or newest, as the server orders the list.
  function insertSorted(list, node) {
    const bySeverity = new URLSearchParams(location.search).get("sort") === "severity";
    const key = function (row) {
      return bySeverity
        ? [Number(row.dataset.severity || 0), Number(row.dataset.flagged || 0)]
        : [Number(row.dataset.flagged || 0), 0];
    };
    const mine = key(node);
    for (const row of list.querySelectorAll(":scope > .mod-case:not(.decided)")) {
      const other = key(row);
      if (mine[0] > other[0] || (mine[0] === other[0] && mine[1] >= other[1])) {
        list.insertBefore(node, row);
        return;
      }
    }
    list.appendChild(node);
  }

  function onCase(event) {
    const list = document.getElementById("mod-cases");
    if (!list) return;
    const wanted = filters();
    const existing = document.getElementById("case-" + event.case_id);
    if (event.state === "pending") {
      if (wanted.tab === "decided") return;
      const node = fragment(event.html);
      if (!node) return;
      if (existing) {
        if (older(node, existing)) return;
        stripIfReadOnly(node, event.channel);
        existing.replaceWith(processed(node));
        return;
      }
      bumpCount(1);
      if (!matches(event, wanted)) return;
      stripIfReadOnly(node, event.channel);
      node.classList.add("fresh");
      const empty = document.getElementById("mod-empty");
      if (empty) empty.remove();
      insertSorted(list, processed(node));
      return;
    }
    decided(event.case_id);
    const node = fragment(event.decided_html);
    if (!node) return;
    if (wanted.tab === "decided") {
      if (existing) return;
      if (!matches(event, wanted)) return;
      const empty = document.getElementById("mod-empty");
      if (empty) empty.remove();
      list.prepend(processed(node));
      return;
    }
    if (existing && !existing.classList.contains("decided")) {
      existing.replaceWith(node);
      retire(node);
    }
  }

  function resync() {
    const root = page();
    if (!root || !window.htmx) return;
    window.htmx.ajax("GET", root.dataset.rowsUrl, { target: "#mod-rows", swap: "innerHTML" });
    const news = document.getElementById("mod-news");
    if (news) news.hidden = true;
  }

  document.addEventListener("inbox:live", function (event) {
    if (!page()) return;
    const data = event.detail || {};
    if (data.type === "moderation.case") onCase(data);
    else if (data.type === "moderation.queue_changed" && filters().tab !== "decided") {
      const news = document.getElementById("mod-news");
      if (news) news.hidden = false;
    }
  });

  let connections = 0;
  document.addEventListener("inbox:connected", function () {
    connections += 1;
    if (connections > 1) resync(); // events may have been missed while away
  });

  // --- bulk -----------------------------------------------------------------------------------

  function selected() {
    return Array.from(document.querySelectorAll("#mod-cases .case-select:checked"));
  }

  function syncBulk() {
    const bar = document.getElementById("mod-bulk");
    if (!bar) return;
    const boxes = selected();
    bar.hidden = boxes.length === 0;
    document.getElementById("mod-bulk-count").textContent = String(boxes.length);
    document.getElementById("mod-bulk-ids").value = boxes.map(function (box) { return box.value; }).join(",");
    for (const row of document.querySelectorAll("#mod-cases > .mod-case")) {
      const box = row.querySelector(".case-select");
      row.classList.toggle("checked", Boolean(box && box.checked));
    }
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!target || !page()) return;
    if (target.id === "mod-select-all") {
      for (const box of document.querySelectorAll("#mod-cases .case-select")) box.checked = target.checked;
      syncBulk();
    } else if (target.classList && target.classList.contains("case-select")) {
      syncBulk();
    } else if (target.id === "mod-bulk-decision") {
      const reason = document.getElementById("mod-bulk-reason");
      const ban = target.value === "ban";
      reason.hidden = !ban;
      reason.required = ban;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form || form.id !== "mod-bulk" || !event.detail.successful) return;
    const answer = fragment(event.detail.xhr.responseText);
    const done = answer && answer.dataset.done ? answer.dataset.done.split(",") : [];
    for (const id of done) {
      const row = document.getElementById("case-" + id);
      if (row && !row.classList.contains("decided")) { decided(Number(id)); retire(row); }
    }
    syncBulk();
  });

  // A decision from this tab: the row comes back as its decided summary.
  document.addEventListener("htmx:afterSwap", function (event) {
    const node = event.detail.elt;
    if (!node || !node.classList) return;
    for (const row of document.querySelectorAll("#mod-cases > .mod-case.decided:not(.leaving)")) {
      if (filters().tab === "decided") break;
      decided(Number(row.dataset.caseId));
      retire(row);
    }
    syncBulk();
  });

  // A refused decision shows the server's reason in the row.
  document.addEventListener("htmx:responseError", function (event) {
    const row = event.detail.elt.closest && event.detail.elt.closest(".mod-case");
    const slot = row ? row.querySelector(".case-note") : document.getElementById("mod-bulk-result");
    if (slot) slot.textContent = (event.detail.xhr.responseText || gettext("That did not work.")).replace(/<[^>]*>/g, "").trim();
  });

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (target && target.id === "mod-news-show") resync();
    if (target && target.classList && target.classList.contains("case-text")) target.classList.toggle("open");
  });

  // --- keyboard -------------------------------------------------------------------------------

  function rows() {
    return Array.from(document.querySelectorAll("#mod-cases > .mod-case:not(.decided)"));
  }

  function cursor() { return document.querySelector("#mod-cases > .mod-case.cursor"); }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(cursor());
    const next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    for (const row of all) row.classList.remove("cursor");
    next.classList.add("cursor");
    next.scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function press(key) {
    const row = cursor();
    if (!row) return;
    if (key === "b") {
      const details = row.querySelector(".ban-form");
      if (!details) return;
      details.open = true;
      const reason = details.querySelector("input[name=reason]");
      if (reason) reason.focus();
      return;
    }
    const button = row.querySelector('button[data-key="' + key + '"]:not(:disabled)');
    if (button) button.click();
  }

  document.addEventListener("keydown", function (event) {
    if (!page() || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const handlers = {
      j: function () { move(1); },
      k: function () { move(-1); },
      x: function () {
        const box = cursor() && cursor().querySelector(".case-select");
        if (box) { box.checked = !box.checked; syncBulk(); }
      },
      a: function () { press("a"); },
      h: function () { press("h"); },
      d: function () { press("d"); },
      b: function () { press("b"); },
    };
    const handler = handlers[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  });
})();
