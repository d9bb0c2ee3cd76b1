/* TSO bot — the demo page: one phone per persona, the mailbox, the simulated clock.
 *
 * A client of the demo server's JSON API and of its server-sent events (/api/events).
 * Bot messages are rendered from the `html` field only: the emulator rebuilt it from the
 * message's entities, escaped, so it holds nothing Telegram would not display. Everything
 * the visitor typed is shown with textContent.
 */
"use strict";

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const wide = window.matchMedia("(min-width: 900px)");
  const SAFE_LINK = /^(https?:|mailto:|tg:)/i;

  const app = {
    personas: new Map(), // key -> {data, panel, chat, ...}
    byChat: new Map(), // chat id -> persona key
    tz: "Europe/Paris",
    clockOffset: 0, // simulated minus real time, in ms
    commands: [],
    mails: new Map(),
    current: null, // the panel shown on a phone-sized screen
    loading: false,
    queued: [], // events received while the state loads
    openMail: null,
    mailPart: "html",
    unreadMails: 0,
  };

  // --- Small helpers -------------------------------------------------------------------

  function h(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  async function call(method, path, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const error = new Error((payload && payload.error) || `Erreur ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return payload;
  }
  const post = (path, body = {}) => call("POST", path, body);

  let noticeTimer = 0;
  function notice(message) {
    const box = $("#notice");
    box.textContent = message;
    box.hidden = !message;
    clearTimeout(noticeTimer);
    if (message) noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  async function attempt(action) {
    try {
      await action();
    } catch (error) {
      notice(error.message);
    }
  }

  // --- Time, in the school's zone ------------------------------------------------------

  function parts(ms, options) {
    const format = new Intl.DateTimeFormat("fr-FR", { timeZone: app.tz, ...options });
    return Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  }

  function longDate(ms) { // « mardi 27 février 2024, 10:00 », as the bot writes it
    const p = parts(ms, {
      weekday: "long", day: "numeric", month: "long", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    return `${p.weekday} ${p.day} ${p.month} ${p.year}, ${p.hour}:${p.minute}`;
  }

  function shortDate(iso) {
    const p = parts(Date.parse(iso), {
      day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    return `${p.day} ${p.month} ${p.hour}:${p.minute}`;
  }

  function localInputValue(ms) { // for <input type="datetime-local">
    const p = parts(ms, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }

  const simulatedNow = () => Date.now() + app.clockOffset;

  // --- The clock -----------------------------------------------------------------------

  function setClock(clock, announce = false) {
    app.clockOffset = Date.parse(clock.now) - Date.now();
    const now = $("#clock-now");
    now.textContent = clock.label;
    now.dateTime = clock.now;
    $("#clock-status").textContent = clock.status;
    $("#local-input").value = localInputValue(simulatedNow());
    selectNextJump();
    if (announce) $("#clock-announce").textContent = `Horloge déplacée : ${clock.label}.`;
  }

  function tickClock() {
    const now = $("#clock-now");
    if (now.dateTime) now.textContent = longDate(simulatedNow());
  }

  function renderJumps(jumps) {
    const select = $("#jump-select");
    select.replaceChildren();
    let group = null;
    for (const jump of jumps) {
      if (!group || group.label !== jump.step) {
        group = h("optgroup", { label: jump.step });
        select.append(group);
      }
      group.append(h("option", { value: jump.at, text: jump.label }));
    }
    selectNextJump();
  }

  function selectNextJump() {
    const now = simulatedNow();
    const options = [...$("#jump-select").options];
    const next = options.find((option) => Date.parse(option.value) > now);
    if (next) next.selected = true;
  }

  async function moveClock(body, button) {
    if (button) button.disabled = true;
    try {
      setClock(await post("/api/clock", body), true);
    } finally {
      if (button) button.disabled = false;
    }
  }

  // --- Tabs and panels -----------------------------------------------------------------

  function renderTabs() {
    const list = $("#tabs");
    list.replaceChildren();
    const entries = [...app.personas.values()].map((p) => [p.panel.id, p.data.label, p.badge]);
    app.mailBadge = h("span", { class: "badge" });
    entries.push(["panel-mails", "E-mails", app.mailBadge]);
    for (const [panelId, label, badge] of entries) {
      const button = h("button", {
        type: "button", "aria-controls": panelId, "data-panel": panelId,
        onclick: () => showPanel(panelId, true),
      }, label, badge);
      list.append(h("li", {}, button));
    }
    showPanel(app.current && document.getElementById(app.current) ? app.current : entries[0][0]);
  }

  function showPanel(panelId, focus = false) {
    app.current = panelId;
    for (const button of document.querySelectorAll("#tabs button")) {
      button.setAttribute("aria-current", String(button.dataset.panel === panelId));
    }
    for (const panel of document.querySelectorAll(".panel")) {
      panel.classList.toggle("active", panel.id === panelId);
    }
    const panel = document.getElementById(panelId);
    if (panelId === "panel-mails") {
      app.unreadMails = 0;
      app.mailBadge.textContent = "";
    } else {
      const persona = [...app.personas.values()].find((p) => p.panel.id === panelId);
      if (persona) persona.badge.textContent = "";
    }
    if (!focus) return;
    // Side by side, the tab is a shortcut: bring the panel into view.
    if (wide.matches) panel.scrollIntoView({ block: "nearest", inline: "nearest" });
    (panel.querySelector("h2") || panel).focus({ preventScroll: true });
  }

  const isShown = (panel) => wide.matches || panel.id === app.current;

  // --- Phones --------------------------------------------------------------------------

  function buildPhone(data) {
    const panel = $("#phone-template").content.firstElementChild.cloneNode(true);
    panel.id = `panel-${data.key}`;
    panel.dataset.persona = data.key;
    const title = $(".phone-title", panel);
    title.id = `title-${data.key}`;
    title.textContent = `${data.label} — ${data.name}`;
    panel.setAttribute("aria-labelledby", title.id);
    $(".panel-desc", panel).textContent = data.description;
    const input = $(".composer input", panel);
    input.id = `input-${data.key}`;
    const label = $(".composer label", panel);
    label.htmlFor = input.id;
    label.textContent = `Message de ${data.name}`;
    $(".chat", panel).setAttribute("aria-label", `Conversation de ${data.name} avec le bot`);
    const persona = {
      data, panel, chat: $(".chat", panel), empty: $(".empty", panel),
      answer: $(".answer", panel), badge: h("span", { class: "badge" }), answerTimer: 0,
    };
    $(".composer", panel).addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      attempt(async () => {
        await post(`/api/personas/${data.key}/send`, { text });
        input.value = "";
      });
    });
    $(".invite-open", panel).addEventListener("click", (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      attempt(() => post(`/api/personas/${data.key}/invite`)).finally(() => {
        button.disabled = false;
      });
    });
    $(".answer-ok", panel).addEventListener("click", () => hideAnswer(persona));
    renderCommands(persona);
    return persona;
  }

  function renderPersona(persona) {
    const { data, panel } = persona;
    const link = $(".phone-link", panel);
    link.textContent = data.linked ? "Compte Telegram relié" : "Compte Telegram pas encore relié";
    link.classList.toggle("linked", data.linked);
    const invite = $(".invite", panel);
    invite.hidden = !data.invite;
    if (data.invite) {
      $(".invite-text", panel).textContent =
        `${data.name} a reçu de l'établissement ce lien d'invitation :`;
      $(".invite-link", panel).textContent = data.invite.link;
    }
  }

  function renderCommands(persona) {
    const box = $(".commands", persona.panel);
    box.replaceChildren();
    for (const command of app.commands) {
      const text = `/${command.command}`;
      box.append(h("button", {
        type: "button", title: command.description,
        onclick: () => attempt(() => post(`/api/personas/${persona.data.key}/send`, { text })),
      }, text));
    }
    box.hidden = app.commands.length === 0;
  }

  // --- Messages ------------------------------------------------------------------------

  const messageDomId = (message) => `m-${message.chat_id}-${message.message_id}`;

  function tidy(root) {
    // Spoilers reveal on hover or focus: make them reachable with the keyboard too.
    for (const spoiler of root.querySelectorAll(".tg-spoiler")) spoiler.tabIndex = 0;
    for (const link of root.querySelectorAll("a")) {
      const href = link.getAttribute("href") || "";
      if (!SAFE_LINK.test(href)) {
        link.removeAttribute("href");
        continue;
      }
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
  }

  function richText(message) {
    const div = h("div", { class: "text" });
    if (message.from_bot) {
      div.innerHTML = message.html; // sanitized by the emulator (rebuilt from entities)
      tidy(div);
    } else {
      div.textContent = message.text;
    }
    return div;
  }

  function fileSize(bytes) {
    if (bytes < 1024) return `${bytes} o`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} ko`;
    return `${(bytes / 1024 / 1024).toFixed(1)} Mo`;
  }

  function content(message) {
    const out = [];
    if (message.kind === "photo" && message.photo) {
      out.push(h("img", { class: "photo", src: message.photo.url, alt: message.text || "Photo" }));
    } else if (message.kind === "document" && message.document) {
      const doc = message.document;
      out.push(h("a", { class: "attachment", href: doc.url, download: doc.filename },
        h("span", { "aria-hidden": "true", text: "📄" }),
        h("span", { text: doc.filename }),
        h("span", { class: "size", text: fileSize(doc.size) })));
    } else if (message.kind === "sticker") {
      out.push(h("p", { class: "sticker", text: message.sticker_emoji || "🖼️" }));
    } else if (message.kind === "location" && message.location) {
      const [lat, lon] = message.location;
      out.push(h("p", { text: `📍 ${lat.toFixed(4)}, ${lon.toFixed(4)}` }));
    }
    if (message.text || message.kind === "text") out.push(richText(message));
    return out;
  }

  function keyboard(key, message) {
    const box = h("div", { class: "keyboard", role: "group", "aria-label": "Boutons du message" });
    for (const row of message.keyboard) {
      const line = h("div", { class: "kb-row" });
      for (const button of row) {
        if (button.callback_data !== undefined) {
          line.append(h("button", {
            type: "button", class: "kb",
            onclick: (event) => pressButton(key, message.message_id, button.callback_data, event),
          }, button.text));
        } else if (button.url && SAFE_LINK.test(button.url)) {
          line.append(h("a", {
            class: "kb", href: button.url, target: "_blank", rel: "noopener noreferrer",
          }, `${button.text} ↗`));
        }
      }
      box.append(line);
    }
    return box;
  }

  function buildMessage(key, message) {
    const item = h("li", {
      id: messageDomId(message), class: `msg ${message.from_bot ? "bot" : "me"}`,
      "data-message-id": message.message_id,
    });
    const bubble = h("div", { class: "bubble" },
      h("span", { class: "visually-hidden", text: message.from_bot ? "Le bot : " : "Vous : " }),
      ...content(message),
      h("p", { class: "meta" },
        message.edit_count ? h("span", { class: "edited", text: "modifié" }) : null,
        h("time", { datetime: message.date, text: shortDate(message.date) })));
    item.append(bubble);
    if (message.keyboard && message.keyboard.length) item.append(keyboard(key, message));
    return item;
  }

  function upsertMessage(message) {
    const key = app.byChat.get(message.chat_id);
    const persona = key && app.personas.get(key);
    if (!persona) return;
    const old = document.getElementById(messageDomId(message));
    if (message.deleted) {
      if (old) old.remove();
    } else {
      const node = buildMessage(key, message);
      if (old) {
        keepFocus(old, node);
        old.replaceWith(node);
      } else {
        persona.chat.append(node);
        persona.chat.scrollTop = persona.chat.scrollHeight;
        if (!isShown(persona.panel) && message.from_bot) bump(persona.badge);
      }
    }
    persona.empty.hidden = persona.chat.children.length > 0;
  }

  function keepFocus(old, node) {
    // An edit replaces the message: keep the keyboard focus on the same button.
    if (!old.contains(document.activeElement)) return;
    const index = [...old.querySelectorAll("button, a")].indexOf(document.activeElement);
    requestAnimationFrame(() => {
      const targets = [...node.querySelectorAll("button, a")];
      (targets[Math.min(index, targets.length - 1)] || node.closest(".panel").querySelector("input")).focus();
    });
  }

  function bump(badge) {
    badge.textContent = String((Number(badge.textContent) || 0) + 1);
  }

  async function pressButton(key, messageId, data, event) {
    const button = event.currentTarget;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    await attempt(() => post(`/api/personas/${key}/press`, { message_id: messageId, data }));
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }

  // The bot's answer to a button: an alert (show_alert) or a passing notification.
  function showAnswer(chatId, answer) {
    const persona = app.personas.get(app.byChat.get(chatId));
    if (!persona || !answer.text) return;
    const box = persona.answer;
    $(".answer-text", box).textContent = answer.text;
    box.classList.toggle("toast", !answer.show_alert);
    $(".answer-ok", box).hidden = !answer.show_alert;
    box.hidden = false;
    clearTimeout(persona.answerTimer);
    if (!answer.show_alert) persona.answerTimer = setTimeout(() => hideAnswer(persona), 4000);
  }

  function hideAnswer(persona) {
    persona.answer.hidden = true;
  }

  // --- Mails ---------------------------------------------------------------------------

  function addMail(mail, fresh) {
    if (app.mails.has(mail.id)) return;
    app.mails.set(mail.id, mail);
    const button = h("button", {
      type: "button", class: "mail-item", "data-mail-id": mail.id,
      onclick: () => attempt(() => openMail(mail.id)),
    },
    h("span", { class: "mail-subject", text: mail.subject }),
    h("span", { class: "mail-meta", text: `À : ${mail.to}` }),
    h("span", { class: "mail-meta", text: mail.date }));
    $("#mail-list").prepend(h("li", {}, button));
    $("#mail-empty").hidden = true;
    if (fresh && !isShown($("#panel-mails"))) {
      app.unreadMails += 1;
      app.mailBadge.textContent = String(app.unreadMails);
    }
  }

  async function openMail(id) {
    const mail = await call("GET", `/api/mails/${id}`);
    app.openMail = id;
    for (const item of document.querySelectorAll(".mail-item")) {
      item.setAttribute("aria-current", String(item.dataset.mailId === String(id)));
    }
    $("#mail-subject").textContent = mail.subject;
    $("#mail-from").textContent = mail.from;
    $("#mail-to").textContent = mail.to;
    $("#mail-date").textContent = mail.date;
    $("#mail-text").textContent = mail.text;
    $("#mail-html").src = `/api/mails/${id}/html`;
    $("#mail-view").hidden = false;
    showMailPart(app.mailPart);
  }

  function showMailPart(part) {
    app.mailPart = part;
    $("#mail-show-html").setAttribute("aria-pressed", String(part === "html"));
    $("#mail-show-text").setAttribute("aria-pressed", String(part === "text"));
    $("#mail-html").hidden = part !== "html";
    $("#mail-text").hidden = part !== "text";
  }

  function clearMails() {
    app.mails.clear();
    app.openMail = null;
    $("#mail-list").replaceChildren();
    $("#mail-empty").hidden = false;
    $("#mail-view").hidden = true;
    $("#mail-html").removeAttribute("src");
  }

  // --- State and live events -----------------------------------------------------------

  function applyState(state) {
    app.tz = state.timezone;
    app.commands = state.commands || [];
    $("#school").textContent = state.school;
    renderJumps(state.jumps);
    setClock(state.clock);
    for (const persona of app.personas.values()) persona.panel.remove();
    app.personas.clear();
    app.byChat.clear();
    const board = $("#board");
    for (const data of state.personas) {
      const persona = buildPhone(data);
      app.personas.set(data.key, persona);
      app.byChat.set(data.chat_id, data.key);
      board.insertBefore(persona.panel, $("#panel-mails"));
      renderPersona(persona);
      for (const message of data.messages) upsertMessage(message);
      persona.empty.hidden = persona.chat.children.length > 0;
    }
    clearMails();
    for (const mail of state.mails) addMail(mail, false);
    renderTabs();
  }

  function updatePersonas(list) {
    for (const data of list) {
      const persona = app.personas.get(data.key);
      if (!persona) continue;
      persona.data = data;
      renderPersona(persona);
    }
  }

  function handle(event) {
    switch (event.type) {
      case "bot_message":
      case "user_message":
      case "edited":
      case "deleted":
        upsertMessage(event.message);
        break;
      case "callback_answer":
        showAnswer(event.chat_id, event.answer);
        break;
      case "personas":
        updatePersonas(event.personas);
        break;
      case "clock":
        setClock(event.clock, true);
        break;
      case "mail":
        addMail(event.mail, true);
        break;
      case "state":
        loadState();
        break;
      case "reset":
        notice("Réinitialisation de la démo…");
        break;
      default:
        break; // callback_query: the press itself, already shown by the button
    }
  }

  async function loadState() {
    app.loading = true;
    try {
      applyState(await call("GET", "/api/state"));
    } catch (error) {
      if (error.status === 503) {
        setTimeout(loadState, 500); // starting or resetting: events stay queued meanwhile
        return;
      }
      notice(error.message);
    }
    app.loading = false;
    const queued = app.queued.splice(0);
    for (const event of queued) if (event.type !== "state" && event.type !== "reset") handle(event);
    document.body.dataset.ready = "true";
  }

  function connect() {
    const live = $("#live");
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => {
      live.textContent = "En direct";
      live.classList.remove("off");
      loadState(); // (re)synchronise: events may have been missed while disconnected
    });
    source.addEventListener("error", () => {
      live.textContent = "Connexion perdue, nouvel essai…";
      live.classList.add("off");
    });
    source.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (app.loading) app.queued.push(event);
      else handle(event);
    });
  }

  // --- Wiring --------------------------------------------------------------------------

  function wire() {
    $("#jump-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const at = $("#jump-select").value;
      if (at) attempt(() => moveClock({ at }, event.submitter));
    });
    $("#local-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const local = $("#local-input").value;
      if (local) attempt(() => moveClock({ local }, event.submitter));
    });
    for (const button of document.querySelectorAll("[data-advance]")) {
      button.addEventListener("click", () => attempt(() =>
        moveClock({ advance_minutes: Number(button.dataset.advance) }, button)));
    }
    $("#reset").addEventListener("click", (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      button.textContent = "Réinitialisation…";
      attempt(async () => applyState(await post("/api/reset"))).finally(() => {
        button.disabled = false;
        button.textContent = "Réinitialiser la démo";
        notice("");
      });
    });
    $("#mail-show-html").addEventListener("click", () => showMailPart("html"));
    $("#mail-show-text").addEventListener("click", () => showMailPart("text"));
    wide.addEventListener("change", () => app.current && showPanel(app.current));
    setInterval(tickClock, 15000);
    connect();
  }

  wire();
})();
