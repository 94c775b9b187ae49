// The Rapport protocol client: one socket, per-stream cursors, resends and reconnects. No DOM here,
// so the widget and the agent console share it, and node's test runner can drive it (tests/js/).
// The protocol is docs/protocol.md; every frame is JSON with a `type`.

import { ErrorCode, TERMINAL_FROM, TERMINAL_UNTIL } from "./protocol.js";

// Errors after which resending the same frame cannot succeed: the client forgets it.
const PERMANENT_ERRORS = new Set([
  ErrorCode.TOO_LONG,
  ErrorCode.INVALID_FRAME,
  ErrorCode.FORBIDDEN,
  ErrorCode.NOT_FOUND,
  ErrorCode.CONFLICT,
]);

export function backoffDelay(attempt, random = Math.random, base = 500, cap = 15000) {
  // Full jitter: clients dropped together by a restart do not all come back in the same instant.
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

export function newClientId() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class RapportClient {
  constructor({
    url,
    WebSocketImpl = globalThis.WebSocket,
    storage = null,
    storageKey = "rapport",
    identity = null,
    random = Math.random,
    timers = { set: (fn, ms) => setTimeout(fn, ms), clear: (id) => clearTimeout(id) },
    helloFields = null, // () => extra hello fields at each (re)connect, e.g. an agent's status
  }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.storage = storage;
    this.storageKey = storageKey;
    this.identity = identity;
    this.random = random;
    this.timers = timers;
    this.helloFields = helloFields;
    this.handlers = new Map();
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.terminal = null;
    this.reconnectTimer = null;
    const saved = this._load();
    this.visitorToken = saved.visitorToken || null;
    this.epoch = saved.epoch || null;
    // Cursors live as long as the page: a reconnect resumes exactly, a reload (an empty page)
    // starts from nothing and is sent the history again. Unacknowledged frames survive reloads.
    this.cursors = {}; // conversation id -> highest seq seen
    this.inbox = null; // highest notification seq seen
    this.pending = new Map(Object.entries(saved.pending || {})); // client_id -> frame, until acked
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  emit(type, payload) {
    for (const handler of this.handlers.get(type) || []) handler(payload);
    for (const handler of this.handlers.get("*") || []) handler(payload);
  }

  start() {
    this.stopped = false;
    this.terminal = null;
    this._open();
  }

  stop() {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.timers.clear(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
  }

  forget() {
    // Rapport('shutdown'): a shared computer must not keep this visitor's conversations.
    this.visitorToken = null;
    this.epoch = null;
    this.cursors = {};
    this.inbox = null;
    this.pending.clear();
    if (this.storage) this.storage.removeItem(this.storageKey);
  }

  // The network is back (the page's `online` event): try at once instead of waiting out the backoff.
  reconnectNow() {
    if (this.stopped || this.terminal !== null || this.ws !== null) return;
    if (this.reconnectTimer !== null) this.timers.clear(this.reconnectTimer);
    this.reconnectTimer = null;
    this.attempt = 0;
    this._open();
  }

  // The network is gone (the page's `offline` event): a socket may not notice for a long time.
  drop() {
    if (this.ws) this.ws.close(4000, "offline");
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  send(frame) {
    if (this.connected) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // A frame that changes something: it carries a client_id, is kept until acknowledged, and is
  // resent under the same id after a reconnect (the server answers a repeat with the original).
  sendTracked(frame) {
    const withId = { client_id: newClientId(), ...frame };
    this.pending.set(withId.client_id, withId);
    this._save();
    this.send(withId);
    return withId.client_id;
  }

  sendMessage(text, conversationId, extra = {}) {
    const frame = { type: "message.send", text, ...extra };
    if (conversationId) frame.conversation_id = conversationId;
    return this.sendTracked(frame);
  }

  _open() {
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: "hello", resume: { ...this.cursors } };
      if (this.visitorToken) hello.visitor_token = this.visitorToken;
      if (this.identity) hello.identity = this.identity;
      if (this.epoch) hello.epoch = this.epoch;
      if (this.inbox !== null) hello.inbox = this.inbox;
      if (this.helloFields) Object.assign(hello, this.helloFields());
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this._handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.emit("disconnected", { code: event.code });
      if (this.stopped) return;
      if (event.code >= TERMINAL_FROM && event.code <= TERMINAL_UNTIL) {
        // Terminal: the same credentials would fail the same way.
        this.terminal = event.code;
        this.emit("terminal", { code: event.code });
        return;
      }
      const delay = backoffDelay(this.attempt, this.random);
      this.attempt += 1;
      this.reconnectTimer = this.timers.set(() => {
        this.reconnectTimer = null;
        // Offline: trying is bound to fail; the page's `online` event calls reconnectNow().
        if (!this.stopped && globalThis.navigator?.onLine !== false) this._open();
      }, delay);
    };
  }

  _handle(frame) {
    switch (frame.type) {
      case "welcome":
        this.attempt = 0;
        if (frame.visitor_token) this.visitorToken = frame.visitor_token;
        this.epoch = frame.epoch;
        this._save();
        this.emit("welcome", frame);
        for (const pending of this.pending.values()) this.send(pending);
        return;
      case "event": {
        const seen = this.cursors[frame.conversation_id] || 0;
        if (frame.seq <= seen) return; // already applied: a replay overlap
        this.cursors[frame.conversation_id] = frame.seq;
        // Only what is kept changed is written (cursors live with the page): not a storage write per event.
        if (frame.client_id && this.pending.delete(frame.client_id)) {
          this._save();
          this.emit("acked", frame);
        }
        this.emit("event", frame);
        return;
      }
      case "reset": {
        const seqs = frame.events.map((e) => e.seq);
        this.cursors[frame.conversation.id] = seqs.length ? Math.max(...seqs) : 0;
        this._save();
        this.emit("reset", frame);
        return;
      }
      case "notification":
        if (this.inbox !== null && frame.seq <= this.inbox) return;
        this.inbox = frame.seq;
        this._save();
        this.emit("notification", frame);
        return;
      case "inbox.reset":
        this.inbox = frame.seq;
        this._save();
        this.emit("inbox.reset", frame);
        return;
      case "ack":
        this.pending.delete(frame.client_id);
        this._save();
        this.emit("ack", frame);
        return;
      case "error":
        if (frame.client_id && this.pending.has(frame.client_id) && PERMANENT_ERRORS.has(frame.code)) {
          this.pending.delete(frame.client_id);
          this._save();
        }
        this.emit("error", frame);
        return;
      default:
        this.emit(frame.type, frame);
    }
  }

  _load() {
    if (!this.storage) return {};
    try {
      return JSON.parse(this.storage.getItem(this.storageKey) || "{}");
    } catch {
      return {};
    }
  }

  _save() {
    if (!this.storage) return;
    const state = {
      visitorToken: this.visitorToken,
      epoch: this.epoch,
      pending: Object.fromEntries(this.pending),
    };
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(state));
    } catch {
      // Storage full or blocked (private mode): the chat still works, it just forgets on reload.
    }
  }
}
