// Notifications: the bell's badge and panel, desktop pop-ups and a short sound.
// Events come from the live socket (live.js dispatches each message as "inbox:live") and, for
// the preferences page's test button, from an HX-Trigger header ("inbox:notification").
// Event text only ever goes into textContent or the Notification API; the only HTML inserted is
// the row the server rendered (and escaped).
(function () {
  "use strict";

  const PANEL_ROWS = 30;
  const SEEN_KEY = "inbox:notified";
  let audio = null;

  function bell() { return document.getElementById("notification-bell"); }
  function button() { return document.getElementById("notification-bell-button"); }
  function panel() { return document.getElementById("notification-panel"); }

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function setCount(unread) {
    const badge = document.getElementById("notification-count");
    if (!badge || typeof unread !== "number") return;
    badge.dataset.count = String(unread);
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = unread === 0;
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // A new row goes on top of every list on the page (the open panel, the list page).
  function prependRow(html) {
    for (const list of document.querySelectorAll(".notif-list")) {
      const row = fragment(html);
      if (!row) return;
      const id = row.dataset.notificationId;
      if (list.querySelector('[data-notification-id="' + id + '"]')) continue;
      const empty = list.querySelector(".notif-empty");
      if (empty) empty.remove();
      list.insertBefore(row, list.firstElementChild);
      if (list.dataset.place === "panel") {
        const rows = list.querySelectorAll(":scope > .notif-row");
        for (let i = PANEL_ROWS; i < rows.length; i += 1) rows[i].remove();
      }
      if (window.htmx) window.htmx.process(row);
      document.dispatchEvent(new CustomEvent("inbox:content", { detail: row }));
    }
  }

  function markRowsRead(ids) {
    for (const row of document.querySelectorAll(".notif-row.unread")) {
      if (ids === null || ids === undefined || ids.indexOf(Number(row.dataset.notificationId)) !== -1) {
        row.classList.remove("unread");
      }
    }
  }

  // Several tabs get the same event: only the first one to claim it pops up and rings.
  function claim(id) {
    if (!id) return true;
    try {
      const seen = JSON.parse(window.localStorage.getItem(SEEN_KEY) || "[]");
      if (seen.indexOf(id) !== -1) return false;
      seen.push(id);
      window.localStorage.setItem(SEEN_KEY, JSON.stringify(seen.slice(-50)));
    } catch (error) {
      // Storage disabled: every tab decides alone, which is merely louder.
    }
    return true;
  }

  function showDesktop(event) {
    if (!("Notification" in window) || window.Notification.permission !== "granted") return;
    // A focused tab shows the badge; pop-ups are for when the inbox is out of sight.
    if (!event.test && document.visibilityState === "visible" && document.hasFocus()) return;
    const popup = new window.Notification(String(event.title || ""), {
      body: String(event.body || ""),
      tag: "inbox-notification-" + String(event.id),
    });
    popup.addEventListener("click", function () {
      window.focus();
      if (event.url && event.url.charAt(0) === "/") window.location.assign(event.url);
      popup.close();
    });
  }

  // Two short soft tones, made here: no audio file to load.
  function ring() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      const start = audio.currentTime + 0.02;
      [[880, 0], [1320, 0.12]].forEach(function (tone) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = "sine";
        oscillator.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.0001, start + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.15, start + tone[1] + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + tone[1] + 0.18);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(start + tone[1]);
        oscillator.stop(start + tone[1] + 0.2);
      });
    } catch (error) {
      // No sound is better than a broken page.
    }
  }

  function handle(event) {
    if (!event || typeof event !== "object") return;
    if (event.type === "notification") {
      setCount(event.unread);
      if (event.html) prependRow(event.html);
      if ((event.desktop || event.sound) && claim(event.id)) {
        if (event.desktop) showDesktop(event);
        if (event.sound) ring();
      }
    } else if (event.type === "notifications.read") {
      setCount(event.unread);
      markRowsRead(event.ids);
    }
  }

  function openPanel() {
    const box = panel();
    const link = button();
    if (!box || !link) return;
    box.hidden = false;
    link.setAttribute("aria-expanded", "true");
    if (window.htmx) {
      window.htmx.ajax("GET", link.dataset.panelUrl, { target: "#notification-panel-body", swap: "innerHTML" });
    }
  }

  function closePanel() {
    const box = panel();
    const link = button();
    if (!box || box.hidden) return;
    box.hidden = true;
    if (link) link.setAttribute("aria-expanded", "false");
  }

  // Opening a notification marks it read; keepalive lets the request outlive the navigation.
  function markOneRead(row) {
    const list = row.closest("[data-read-url]") || bell();
    if (!list || !window.fetch) return;
    const body = new URLSearchParams();
    body.append("id", row.dataset.notificationId);
    window.fetch(list.dataset.readUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrfToken() },
    }).catch(function () {});
    row.classList.remove("unread");
  }

  function permissionText() {
    const status = document.getElementById("notification-permission");
    const enable = document.getElementById("enable-desktop-notifications");
    if (!status) return;
    const state = "Notification" in window ? window.Notification.permission : "unsupported";
    status.textContent = status.dataset[state] || "";
    if (enable) enable.hidden = state !== "default";
  }

  document.addEventListener("inbox:live", function (event) { handle(event.detail); });
  document.addEventListener("inbox:notification", function (event) { handle(event.detail); });

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const link = target.closest("#notification-bell-button");
    if (link) {
      event.preventDefault();
      if (panel() && panel().hidden) openPanel();
      else closePanel();
      return;
    }
    const row = target.closest(".notif-row.unread .notif-link");
    if (row) markOneRead(row.closest(".notif-row"));
    if (target.closest("#enable-desktop-notifications") && "Notification" in window) {
      // Browsers only ask when the request comes from a user's gesture, like this click.
      Promise.resolve(window.Notification.requestPermission()).then(permissionText);
      return;
    }
    const own = bell();
    if (own && !own.contains(target)) closePanel();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel() && !panel().hidden) {
      closePanel();
      const link = button();
      if (link) link.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", permissionText);
})();
