// The shopper's chat panel, in a shadow root so the shop's CSS and ours never meet.
// Everything a customer or agent typed is rendered with textContent, never as HTML.
import { RapportClient } from "./client.js";
import { CloseCode } from "./protocol.js";

const STYLE = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.launcher { position: fixed; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0;
  background: var(--accent); color: #fff; font-size: 26px; cursor: pointer; z-index: 2147483000;
  box-shadow: 0 6px 20px rgba(0,0,0,.25); }
.launcher .badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; border-radius: 10px;
  background: #e5484d; color: #fff; font-size: 12px; line-height: 20px; padding: 0 5px; display: none; }
.panel { position: fixed; bottom: 88px; width: 360px; height: 520px; max-height: calc(100vh - 110px);
  background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22); display: none;
  flex-direction: column; overflow: hidden; z-index: 2147483000; color: #1c1c1e; }
.panel.open { display: flex; }
.right { right: 20px; } .left { left: 20px; }
header { background: var(--accent); color: #fff; padding: 14px 16px; }
header h2 { margin: 0; font-size: 16px; font-weight: 600; }
header p { margin: 4px 0 0; font-size: 12px; opacity: .9; }
.offers { padding: 8px 10px 0; display: flex; flex-direction: column; gap: 6px; }
.offers:empty { display: none; }
.launcher svg { vertical-align: middle; }
.offer { border: 1px solid #e4e4e7; border-radius: 10px; padding: 8px 10px; background: #fafaf9; font-size: 13px; }
.offer strong { display: block; margin-bottom: 2px; }
.offer code { background: #fef3c7; padding: 1px 5px; border-radius: 4px; font-size: 12px; }
.offer button { float: right; border: 0; background: none; cursor: pointer; color: #71717a; font-size: 14px; }
.messages { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px;
  background: #f7f7f8; }
.msg { max-width: 80%; padding: 8px 11px; border-radius: 14px; font-size: 14px; line-height: 1.35;
  white-space: pre-wrap; word-wrap: break-word; }
.msg.customer { align-self: flex-end; background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
.msg.agent { align-self: flex-start; background: #fff; border: 1px solid #e4e4e7; border-bottom-left-radius: 4px; }
.msg.pending { opacity: .55; } .msg.failed { background: #fee2e2; color: #991b1b; }
.msg .who { display: block; font-size: 11px; opacity: .7; margin-bottom: 2px; }
.system { align-self: center; font-size: 12px; color: #71717a; }
.seen { align-self: flex-end; font-size: 11px; color: #71717a; }
.typing { font-size: 12px; color: #71717a; padding: 0 14px 4px; min-height: 18px; background: #f7f7f8; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e4e4e7; }
input { flex: 1; border: 1px solid #d4d4d8; border-radius: 20px; padding: 9px 14px; font-size: 14px; outline: none; }
input:focus { border-color: var(--accent); }
form button { border: 0; border-radius: 20px; background: var(--accent); color: #fff; padding: 0 16px; cursor: pointer; }
`;

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function chatIcon() {
  // Drawn, not an emoji: headless and minimal systems often lack an emoji font.
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "26");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  return svg;
}

export function mount({ server, settings }) {
  const host = el("div", { id: "rapport-widget" });
  document.body.appendChild(host);
  const root = host.attachShadow({ mode: "open" });
  const side = settings.position === "left" ? "left" : "right";
  const style = el("style", {}, STYLE);
  root.appendChild(style);
  host.style.setProperty("--accent", settings.color || "#4f46e5");

  const launcher = el("button", { class: `launcher ${side}`, "data-testid": "rapport-launcher",
    "aria-label": settings.launcherTitle || "Chat with us" });
  launcher.appendChild(chatIcon());
  const badge = el("span", { class: "badge" });
  launcher.appendChild(badge);
  const panel = el("section", { class: `panel ${side}`, role: "dialog", "aria-label": "Chat" });
  const header = el("header");
  const title = el("h2", {}, settings.title || "Chat with us");
  const status = el("p", { "data-testid": "rapport-status" }, "Connecting…");
  header.append(title, status);
  const offers = el("div", { class: "offers", "data-testid": "rapport-offers" });
  const list = el("div", { class: "messages", "data-testid": "rapport-messages", "aria-live": "polite" });
  const typing = el("div", { class: "typing" });
  const form = el("form");
  const input = el("input", { "data-testid": "rapport-input", "aria-label": "Your message",
    placeholder: "Write a message…", maxlength: "4000" });
  const send = el("button", { type: "submit", "data-testid": "rapport-send" }, "Send");
  form.append(input, send);
  panel.append(header, offers, list, typing, form);
  root.append(launcher, panel);

  const client = new RapportClient({
    url: server.replace(/^http/, "ws") + "/ws/widget",
    storage: window.localStorage,
    storageKey: "rapport.widget",
  });
  let conversation = null; // the conversation on screen: the most recent one
  let agentsOnline = false;
  let profile = null;
  let unread = 0;
  let typingTimer = null;
  let lastTypingSent = 0;
  const bySeq = new Map(); // seq -> element, for edits and read marks
  const pendingEls = new Map(); // client_id -> element

  function setStatus() {
    if (!client.connected) status.textContent = "Reconnecting…";
    else if (agentsOnline) status.textContent = profile && profile.name ? `Hi ${profile.name.split(" ")[0]} — we're online` : "We're online";
    else status.textContent = "Leave a message – we'll reply soon";
  }

  function scroll() {
    list.scrollTop = list.scrollHeight;
  }

  function bumpUnread() {
    if (panel.classList.contains("open")) return;
    unread += 1;
    badge.textContent = String(unread);
    badge.style.display = "block";
  }

  function renderEvent(event) {
    if (conversation === null) conversation = event.conversation_id;
    if (event.conversation_id !== conversation) return;
    if (event.kind === "message") {
      const mine = event.author_type === "customer";
      let node = event.client_id ? pendingEls.get(event.client_id) : null;
      if (node) {
        pendingEls.delete(event.client_id);
        node.classList.remove("pending");
      } else {
        node = el("div", { class: `msg ${mine ? "customer" : "agent"}`, "data-testid": "rapport-message",
          "data-author": mine ? "customer" : "agent" });
        if (!mine && event.author_name) node.appendChild(el("span", { class: "who" }, event.author_name));
        node.appendChild(el("span", { class: "text" }, event.text));
        list.appendChild(node);
        if (!mine) bumpUnread();
      }
      bySeq.set(event.seq, node);
      if (!mine) markRead(event.seq);
    } else if (event.kind === "edit") {
      const target = bySeq.get(event.target_seq);
      if (target) target.querySelector(".text").textContent = `${event.text} (edited)`;
    } else if (event.kind === "assigned") {
      list.appendChild(el("div", { class: "system" }, `${event.author_name || "An agent"} joined the chat`));
    } else if (event.kind === "status" && event.status === "closed") {
      list.appendChild(el("div", { class: "system" }, "This conversation was closed. Write to reopen it."));
    } else if (event.kind === "read" && event.author_type === "agent") {
      for (const old of list.querySelectorAll(".seen")) old.remove();
      list.appendChild(el("div", { class: "seen" }, "Seen"));
    }
    scroll();
  }

  function markRead(seq) {
    if (!panel.classList.contains("open") || document.hidden || !conversation) return;
    client.send({ type: "read", conversation_id: conversation, seq });
  }

  function renderNotification(n) {
    if (n.expires_at && n.expires_at < Date.now()) return;
    const card = el("div", { class: "offer", "data-testid": "rapport-offer", "data-kind": n.kind });
    const dismiss = el("button", { "aria-label": "Dismiss" }, "×");
    dismiss.addEventListener("click", () => {
      card.remove();
      client.send({ type: "notification.track", seq: n.seq, action: "dismissed" });
    });
    card.append(dismiss, el("strong", {}, n.title), el("span", {}, n.body));
    if (n.voucher) {
      card.append(" ", el("code", {}, n.voucher.code));
    }
    if (n.url && /^https?:\/\//.test(n.url)) {
      const link = el("a", { href: n.url, target: "_blank", rel: "noopener" }, " Open");
      link.addEventListener("click", () => client.send({ type: "notification.track", seq: n.seq, action: "clicked" }));
      card.appendChild(link);
    }
    offers.prepend(card);
    client.send({ type: "notification.track", seq: n.seq, action: "delivered" });
    bumpUnread();
  }

  client
    .on("welcome", (w) => {
      agentsOnline = w.agents_online;
      profile = w.profile || null;
      const open = (w.conversations || []).find((c) => c.status !== "closed") || (w.conversations || [])[0];
      if (open && conversation === null) conversation = open.id;
      setStatus();
      if (conversation && !(conversation in client.cursors)) {
        client.send({ type: "resume", conversation_id: conversation, after: 0 });
      }
    })
    .on("presence", (p) => {
      agentsOnline = p.agents_online;
      setStatus();
    })
    .on("event", renderEvent)
    .on("reset", (r) => {
      if (r.conversation.id !== conversation) return;
      list.replaceChildren();
      bySeq.clear();
      (r.events || []).forEach(renderEvent);
    })
    .on("ack", (ack) => {
      if (conversation === null) conversation = ack.conversation_id;
    })
    .on("error", (err) => {
      const node = err.client_id ? pendingEls.get(err.client_id) : null;
      if (node && !client.pending.has(err.client_id)) {
        node.classList.add("failed");
        node.title = err.message;
      }
    })
    .on("typing", (t) => {
      if (t.author_type !== "agent" || t.conversation_id !== conversation) return;
      typing.textContent = t.active ? `${t.author_name || "Agent"} is typing…` : "";
      clearTimeout(typingTimer);
      if (t.active) typingTimer = setTimeout(() => (typing.textContent = ""), 6000);
    })
    .on("notification", renderNotification)
    .on("inbox.reset", (r) => {
      offers.replaceChildren();
      (r.notifications || []).forEach(renderNotification);
    })
    .on("disconnected", setStatus)
    .on("terminal", (t) => {
      if (t.code === CloseCode.UNAUTHORIZED && client.identity) {
        // Our proof of identity was refused or expired: go on as an anonymous visitor.
        client.identity = null;
        client.forget();
        client.start();
      } else if (t.code === CloseCode.SESSION_ENDED && !client.identity) {
        // This visitor logged in in another tab: their token no longer opens anything here.
        client.forget();
        client.start();
      } else {
        status.textContent = "Chat unavailable";
      }
    });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const clientId = client.sendMessage(text, conversation);
    const node = el("div", { class: "msg customer pending", "data-testid": "rapport-message",
      "data-author": "customer" });
    node.appendChild(el("span", { class: "text" }, text));
    pendingEls.set(clientId, node);
    list.appendChild(node);
    scroll();
    if (conversation) client.send({ type: "typing", conversation_id: conversation, active: false });
  });

  input.addEventListener("input", () => {
    const now = Date.now();
    if (conversation && now - lastTypingSent > 3000) {
      lastTypingSent = now;
      client.send({ type: "typing", conversation_id: conversation, active: true });
    }
  });

  function toggle(open) {
    panel.classList.toggle("open", open);
    if (open) {
      unread = 0;
      badge.style.display = "none";
      input.focus();
      const last = [...bySeq.keys()].pop();
      if (last) markRead(last);
    }
  }
  launcher.addEventListener("click", () => toggle(!panel.classList.contains("open")));
  // A link from one of our e-mails (`#rapport-chat=<conversation>`) opens the chat again.
  if (/^#rapport-chat=[\w-]{1,64}$/.test(location.hash)) toggle(true);

  let lastUrl = null;
  function pageView() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    client.send({ type: "page.view", url: location.href.slice(0, 2000), title: document.title.slice(0, 300) });
  }
  client.on("welcome", () => {
    lastUrl = null;
    pageView();
  });
  window.addEventListener("popstate", pageView);

  let started = false;

  return {
    start() {
      started = true;
      client.start();
    },
    // Rapport('setUser' | 'open' | 'close' | 'track' | 'shutdown', ...)
    call([method, ...args]) {
      if (method === "setUser" && args[0] && args[0].user_id) {
        const user = args[0];
        client.identity = { user_id: String(user.user_id) };
        if (user.token) client.identity.token = user.token;
        if (user.user_hash) client.identity.user_hash = user.user_hash;
        // Name and e-mail are the shop's to say (its API, or claims of the signed JWT): a
        // browser's word is not taken for them, so they are not sent.
        if (started) {
          client.stop();
          client.start();
        }
      } else if (method === "open") toggle(true);
      else if (method === "close") toggle(false);
      else if (method === "track" && typeof args[0] === "string") {
        client.send({ type: "track", name: args[0], props: args[1] || {} });
      } else if (method === "shutdown") {
        client.stop();
        client.forget();
        host.remove();
      }
    },
  };
}
