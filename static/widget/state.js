// What the shopper's widget knows and does: conversations and their events, the inbox, orders,
// what was seen. No DOM here: the components (panel.js and the views) render it.
import { RapportClient } from "./client.js";
import { CloseCode } from "./protocol.js";

const MARKS = "rapport.marks"; // what this device has seen: read marks, cards shown, tracking sent
const ACTIVE = "rapport.active"; // the loader fetches the widget at once when this is set
const TRACK_GAP_MS = 150; // tracking frames are paced: a replayed inbox must not trip the rate limit
const KEPT = 300; // the most notification marks kept per list

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export class ShopperChat {
  constructor({ server, storage }) {
    this.storage = storage;
    this.client = new RapportClient({
      url: server.replace(/^http/, "ws") + "/ws/widget",
      storage,
      storageKey: "rapport.widget",
    });
    this.listeners = new Set();
    this.handlers = new Map(); // Rapport('on', name, fn)
    this.tracks = [];
    this.trackTimer = null;
    this.surveyRequests = new Map(); // client_id -> notification seq
    this.open = false;
    this.view = "chat";
    this.marks = { read: {}, shown: [], tracked: [], answered: {}, ...(readJson(storage, MARKS) || {}) };
    this.clear();
    this.wire();
  }

  clear() {
    this.connected = false;
    this.everConnected = false;
    this.unavailable = false;
    this.agentsOnline = false;
    this.profile = null;
    this.identified = false;
    this.maxChars = 4000;
    this.conversations = new Map(); // id -> summary
    this.events = new Map(); // conversation id -> Map(seq -> event)
    this.sending = new Map(); // client_id -> {text, conversation_id, at, failed}
    this.current = null; // the conversation on screen; null: a new one
    this.notifications = new Map(); // seq -> notification
    this.orders = null; // asked for when the orders tab opens
    this.cards = []; // notification seqs waiting to show over the closed launcher
    this.typing = null;
    this.agentNames = new Map(); // agent id -> name, from their events
    this.live = ""; // the ARIA live region's latest announcement
    this.surveyErrors = new Map(); // notification seq -> why its answers were refused
  }

  // ------------------------------------------------------------ observers

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn();
    });
  }

  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
  }

  emit(name, payload) {
    for (const fn of this.handlers.get(name) || []) {
      try {
        fn(payload);
      } catch (error) {
        console.error(error); // a page's handler must not break the chat
      }
    }
  }

  saveMarks() {
    for (const list of ["shown", "tracked"]) this.marks[list] = this.marks[list].slice(-KEPT);
    try {
      this.storage.setItem(MARKS, JSON.stringify(this.marks));
    } catch {
      // Storage full or blocked: marks last as long as the page.
    }
  }

  remember(active) {
    try {
      if (active) this.storage.setItem(ACTIVE, "1");
      else this.storage.removeItem(ACTIVE);
    } catch {
      // As above.
    }
  }

  // ------------------------------------------------------------ frames in

  wire() {
    const c = this.client;
    c.on("welcome", (w) => {
      this.connected = this.everConnected = true;
      this.agentsOnline = w.agents_online;
      this.profile = w.profile || null;
      this.identified = !!w.profile;
      this.maxChars = w.max_message_chars;
      for (const summary of w.conversations || []) this.conversations.set(summary.id, summary);
      if (this.current === null) this.current = this.startingConversation(w.conversations || []);
      if (this.identified || this.conversations.size) this.remember(true);
      if (this.current && !(this.current in c.cursors)) this.follow(this.current);
      if (this.orders !== null) c.send({ type: "orders.list" });
      this.changed();
    });
    c.on("presence", (p) => {
      this.agentsOnline = p.agents_online;
      this.changed();
    });
    c.on("event", (e) => this.apply(e, true));
    c.on("reset", (r) => {
      this.conversations.set(r.conversation.id, r.conversation);
      this.events.set(r.conversation.id, new Map());
      for (const e of r.events) this.apply(e, false);
      this.changed();
    });
    c.on("resumed", () => this.changed());
    c.on("ack", (ack) => {
      const sent = this.sending.get(ack.client_id);
      if (sent && !this.conversations.has(ack.conversation_id)) {
        this.conversations.set(ack.conversation_id, {
          id: ack.conversation_id, status: "waiting", last_seq: ack.seq, created_at: Date.now(),
        });
      }
      if (sent && this.current === null) this.current = ack.conversation_id;
      this.sending.delete(ack.client_id);
      this.remember(true);
      this.changed();
    });
    c.on("conversation", (u) => {
      this.conversations.set(u.conversation.id, { ...this.conversations.get(u.conversation.id), ...u.conversation });
      this.changed();
    });
    c.on("error", (err) => {
      const sent = err.client_id && this.sending.get(err.client_id);
      if (sent && !c.pending.has(err.client_id)) sent.failed = err.message;
      const survey = this.surveyRequests.get(err.client_id);
      if (survey !== undefined) this.surveyErrors.set(survey, err.message);
      this.changed();
    });
    c.on("typing", (t) => {
      if (t.author_type !== "agent") return;
      this.typing = t.active ? { conversation_id: t.conversation_id, name: t.author_name } : null;
      clearTimeout(this.typingTimer);
      if (t.active) this.typingTimer = setTimeout(() => ((this.typing = null), this.changed()), 6000);
      this.changed();
    });
    c.on("notification", (n) => this.notify(n, true));
    c.on("inbox.reset", (r) => {
      this.notifications.clear();
      for (const n of r.notifications) this.notify(n, false);
      this.changed();
    });
    c.on("survey.answered", (a) => {
      this.marks.answered[a.seq] = true;
      this.saveMarks();
      this.changed();
    });
    c.on("orders", (o) => {
      this.orders = o.orders;
      this.changed();
    });
    c.on("consent", (s) => {
      this.profile = { ...this.profile, marketing_consent: s.marketing };
      this.changed();
    });
    c.on("disconnected", () => {
      this.connected = false;
      this.changed();
    });
    c.on("terminal", (t) => {
      if (t.code === CloseCode.UNAUTHORIZED && c.identity) {
        // Our proof of identity was refused or expired: go on as an anonymous visitor.
        this.logout();
      } else if (t.code === CloseCode.SESSION_ENDED && !c.identity) {
        // This visitor logged in in another tab: their token no longer opens anything here.
        c.forget();
        this.clear();
        c.start();
      } else {
        this.unavailable = true;
      }
      this.changed();
    });
  }

  startingConversation(list) {
    const open = list.find((s) => s.status !== "closed");
    if (open) return open.id;
    // A chat closed in the last day and not rated yet: its survey is still worth asking.
    const last = list[0];
    return last && last.rating == null && last.created_at > Date.now() - 86_400_000 ? last.id : null;
  }

  apply(e, live) {
    let events = this.events.get(e.conversation_id);
    if (!events) this.events.set(e.conversation_id, (events = new Map()));
    events.set(e.seq, e);
    const summary = this.conversations.get(e.conversation_id);
    if (summary) {
      summary.last_seq = Math.max(summary.last_seq || 0, e.seq);
      if (e.kind === "status" || e.kind === "assigned") summary.status = e.status;
      if (e.kind === "assigned") summary.agent_id = e.agent_id;
      if (e.kind === "rating") summary.rating = e.score;
      if (e.kind === "message") summary.preview = e.text;
    }
    if (e.author_type === "agent" && e.author_name) this.agentNames.set(e.author_id, e.author_name);
    // An assignment names who takes over (after a transfer, not the agent who handed it over).
    if (e.kind === "assigned" && e.agent_name) this.agentNames.set(e.agent_id, e.agent_name);
    if (e.client_id) this.sending.delete(e.client_id);
    if (e.kind === "message" && e.author_type === "agent") {
      if (e.conversation_id === this.typing?.conversation_id) this.typing = null;
      if (this.open && this.view === "chat" && e.conversation_id === this.current) this.markRead();
      if (live && e.at > Date.now() - 60_000) {
        this.live = `${e.author_name || ""}: ${e.text}`;
        this.emit("message", { conversation_id: e.conversation_id, text: e.text, author_name: e.author_name, at: e.at });
        this.emit("alert", e);
      }
    }
    this.changed();
  }

  notify(n, live) {
    if (n.expires_at && n.expires_at < Date.now()) return;
    this.notifications.set(n.seq, n);
    this.track(n.seq, "delivered");
    const fresh = !this.marks.shown.includes(n.seq) && !this.marks.answered[n.seq];
    if (fresh && !this.cards.includes(n.seq)) this.cards.push(n.seq);
    if (n.kind === "order" && this.orders && n.data?.order_id) {
      const rest = this.orders.filter((o) => o.order_id !== n.data.order_id);
      this.orders = [{ order_id: n.data.order_id, status: n.data.status, title: n.title, text: n.body, url: n.url, at: n.at }, ...rest];
    }
    if (live) this.emit("notification", n);
    this.changed();
  }

  // ------------------------------------------------------------ what the shopper sees

  messagesOf(conversationId) {
    const events = [...(this.events.get(conversationId)?.values() || [])].sort((a, b) => a.seq - b.seq);
    const sending = [...this.sending.entries()]
      .filter(([, s]) => s.conversation_id === conversationId || (conversationId === null && !s.conversation_id))
      .map(([client_id, s]) => ({ kind: "message", author_type: "customer", text: s.text, at: s.at, client_id, sending: true, failed: s.failed }));
    return [...events, ...sending];
  }

  /** The seq the shopper has read up to: this device's mark, or a read receipt from any device. */
  readUpTo(conversationId) {
    let upto = this.marks.read[conversationId] || 0;
    for (const e of this.events.get(conversationId)?.values() || []) {
      if (e.kind === "read" && e.author_type === "customer") upto = Math.max(upto, e.target_seq);
    }
    return upto;
  }

  unreadIn(conversationId) {
    const upto = this.readUpTo(conversationId);
    let count = 0;
    for (const e of this.events.get(conversationId)?.values() || []) {
      if (e.kind === "message" && e.author_type === "agent" && e.seq > upto) count += 1;
    }
    return count;
  }

  get unread() {
    let count = 0;
    for (const id of this.events.keys()) count += this.unreadIn(id);
    return count;
  }

  get unseenUpdates() {
    return [...this.notifications.keys()].filter((seq) => !this.marks.shown.includes(seq)).length;
  }

  rated(conversationId) {
    const summary = this.conversations.get(conversationId);
    if (summary?.rating != null) return true;
    return [...(this.events.get(conversationId)?.values() || [])].some((e) => e.kind === "rating");
  }

  agentOf(conversationId) {
    const summary = this.conversations.get(conversationId);
    return summary?.agent_id ? { id: summary.agent_id, name: this.agentNames.get(summary.agent_id) || null } : null;
  }

  // ------------------------------------------------------------ what the shopper does

  start() {
    this.started = true;
    this.client.start();
  }

  follow(conversationId) {
    this.client.send({ type: "resume", conversation_id: conversationId, after: this.client.cursors[conversationId] || 0 });
  }

  show(conversationId) {
    if (conversationId !== this.current) this.contactGiven = false;
    this.current = conversationId;
    this.view = "chat";
    if (conversationId && !(conversationId in this.client.cursors)) this.follow(conversationId);
    this.markRead();
    this.changed();
  }

  send(text, contact = null) {
    const extra = contact ? { contact } : {};
    const id = this.client.sendMessage(text, this.current, extra);
    this.sending.set(id, { text, conversation_id: this.current, at: Date.now(), failed: null });
    if (this.current) this.client.send({ type: "typing", conversation_id: this.current, active: false });
    this.changed();
  }

  typingNow() {
    const now = Date.now();
    if (this.current && now - (this.lastTyping || 0) > 3000) {
      this.lastTyping = now;
      this.client.send({ type: "typing", conversation_id: this.current, active: true });
    }
  }

  markRead() {
    const id = this.current;
    if (!id || !this.open || this.view !== "chat" || document.hidden) return;
    const agentSeqs = [...(this.events.get(id)?.values() || [])]
      .filter((e) => e.kind === "message" && e.author_type === "agent")
      .map((e) => e.seq);
    const last = Math.max(0, ...agentSeqs);
    if (last > this.readUpTo(id)) {
      this.marks.read[id] = last;
      this.saveMarks();
      this.client.send({ type: "read", conversation_id: id, seq: last });
      this.changed();
    }
  }

  rate(score, comment) {
    this.client.sendTracked({ type: "conversation.rate", conversation_id: this.current, score, comment: comment || null });
  }

  answer(seq, answers) {
    const id = this.client.sendTracked({ type: "survey.answer", seq, answers });
    this.surveyRequests.set(id, seq);
    this.surveyErrors.delete(seq);
    this.changed();
  }

  setConsent(marketing) {
    this.client.send({ type: "consent.set", marketing });
  }

  loadOrders() {
    if (this.orders === null) this.orders = [];
    this.client.send({ type: "orders.list" });
  }

  /** A notification was on screen: counted once as opened (and not shown as a card again). */
  seen(seq) {
    if (!this.marks.shown.includes(seq)) {
      this.marks.shown.push(seq);
      this.saveMarks();
      this.changed();
    }
    this.cards = this.cards.filter((s) => s !== seq);
    this.track(seq, "opened");
  }

  dismiss(seq) {
    this.seen(seq);
    this.track(seq, "dismissed");
    this.changed();
  }

  track(seq, action) {
    const key = `${this.profileKey()}:${seq}:${action}`;
    if (this.marks.tracked.includes(key)) return;
    this.marks.tracked.push(key);
    this.saveMarks();
    this.tracks.push({ type: "notification.track", seq, action });
    if (this.trackTimer === null) this.pace();
  }

  profileKey() {
    return this.client.identity ? this.client.identity.user_id : "visitor";
  }

  pace() {
    const next = this.tracks.shift();
    if (!next) {
      this.trackTimer = null;
      return;
    }
    if (!this.client.send(next)) this.tracks.unshift(next); // offline: sent after the reconnect
    this.trackTimer = setTimeout(() => this.pace(), TRACK_GAP_MS);
  }

  setUser(user) {
    const identity = { user_id: String(user.user_id) };
    if (user.token) identity.token = user.token;
    if (user.user_hash) identity.user_hash = user.user_hash;
    // Name and e-mail are the shop's to say (its API, or claims of the signed JWT): a browser's
    // word is not taken for them, so they are not sent. The visitor token goes along with the
    // identity, so the conversation an anonymous visitor started stays theirs.
    this.client.identity = identity;
    this.restart();
  }

  logout() {
    this.client.identity = null;
    this.client.stop();
    this.client.forget();
    this.marks = { read: {}, shown: [], tracked: [], answered: {} };
    try {
      this.storage.removeItem(MARKS);
    } catch {
      // As above.
    }
    this.remember(false);
    this.clear();
    this.changed();
    if (this.started) this.client.start();
  }

  restart() {
    this.clear();
    this.changed();
    if (this.started) {
      this.client.stop();
      this.client.cursors = {};
      this.client.inbox = null;
      this.client.start();
    }
  }
}
