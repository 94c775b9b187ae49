// The agent's inbox as a model: conversations by id, the four views, transcripts, presence and
// what the agent does (take, reply, note, edit, transfer, close, reopen). Frames from the socket
// and answers from REST change it; each change emits the topics of what it touched (topics.js),
// so an incoming message re-renders its row, its transcript and the list order, nothing else.
import { api, query } from "../lib/api.js";
import { Transcript } from "./transcript.js";

export const VIEWS = ["waiting", "mine", "open", "closed"];
const HISTORY_PAGE = 100;
const CLOSED_PAGE = 50;
const TYPING_SHOWN_MS = 6000;
const PANEL_FRESH_MS = 15_000;
const READ_AFTER_MS = 300;

function activity(summary) {
  return summary.last_message_at || summary.created_at || 0;
}

export function customerLabel(summary) {
  if (!summary) return "";
  return summary.customer_name || `Visitor ${summary.customer_id.slice(-5)}`;
}

export class Inbox {
  constructor({ topics, me, notifier = null }) {
    this.topics = topics;
    this.me = me; // { id, name, role, email, max_concurrent }
    this.notifier = notifier;
    this.client = null;
    this.status = "online";
    this.agents = new Map(); // id -> { id, name, role, status }
    this.conversations = new Map(); // id -> summary (the latest known)
    this.waitingIds = [];
    this.mineIds = [];
    this.openIds = [];
    this.openLoaded = false;
    this.closedIds = [];
    this.closedNext = null;
    this.closedLoaded = false;
    this.transcripts = new Map();
    this.writable = new Map(); // id -> whether we may write in it (from history answers)
    this.panels = new Map(); // id -> { data, at, error }
    this.typing = new Map(); // id -> { timer }
    this.readSent = new Map(); // id -> the seq of the last read receipt sent
    this.readTimers = new Map(); // id -> the timer of a receipt about to be sent
    this.selected = null;
    this.connection = "connecting";
    this.welcomed = false;
    this.toasts = [];
    this.replies = null; // canned replies, loaded when first needed
    this.drafts = new Map(); // id -> what the agent was writing there
    this.composerMode = new Map(); // id -> "reply" or "note"
    this.takenHere = new Set(); // taken or reopened from this console: no "is now yours" toast
    this._openRefresh = null;
  }

  // -------------------------------------------------------------- reading the model

  summary(id) {
    return this.conversations.get(id);
  }

  ids(view) {
    if (view === "waiting") return this.waitingIds;
    if (view === "mine") return this.mineIds;
    if (view === "open") return this.openIds;
    if (view === "closed") return this.closedIds;
    return [];
  }

  // The view a conversation belongs in now, for a link to it.
  viewOf(id) {
    const summary = this.summary(id);
    if (this.isMine(summary)) return "mine";
    if (summary && summary.status === "waiting") return "waiting";
    if (summary && summary.status === "closed") return "closed";
    return "open";
  }

  transcript(id) {
    let transcript = this.transcripts.get(id);
    if (!transcript) this.transcripts.set(id, (transcript = new Transcript(id)));
    return transcript;
  }

  isMine(summary) {
    return !!summary && summary.agent_id === this.me.id && summary.status === "assigned";
  }

  canWrite(id) {
    const summary = this.summary(id);
    if (!summary || summary.status === "closed") return false;
    return this.me.role === "admin" || summary.agent_id === this.me.id;
  }

  canReopen(id) {
    const summary = this.summary(id);
    return !!summary && summary.status === "closed" && (this.me.role === "admin" || summary.agent_id === this.me.id);
  }

  unreadTotal() {
    let total = 0;
    for (const id of this.mineIds) total += this.summary(id)?.agent_unread || 0;
    for (const id of this.waitingIds) total += this.summary(id)?.agent_unread || 0;
    return total;
  }

  agentName(id) {
    if (!id) return null;
    if (id === this.me.id) return "you";
    return this.agents.get(id)?.name || "another agent";
  }

  // -------------------------------------------------------------- frames from the socket

  onWelcome(welcome) {
    this.welcomed = true;
    this.connection = "online";
    this.maxChars = welcome.max_message_chars;
    if (welcome.agent && welcome.agent.status) this.status = welcome.agent.status;
    for (const summary of welcome.conversations || []) this._put(summary);
    this._rebuildMine();
    this.topics.emit("connection");
    this.topics.emit("me");
    if (this.selected) this._follow(this.selected);
  }

  onQueue(frame) {
    const before = new Set(this.waitingIds);
    const waiting = frame.waiting || [];
    for (const summary of waiting) this._put(summary);
    this.waitingIds = waiting.map((s) => s.id);
    const arrived = waiting.filter((s) => !before.has(s.id));
    const stale = this.toasts.filter((t) => t.whileWaiting && !this.waitingIds.includes(t.action));
    if (stale.length) {
      this.toasts = this.toasts.filter((t) => !stale.includes(t));
      this.topics.emit("toasts");
    }
    this.topics.emit("lists");
    this.topics.emit("title");
    if (this.notifier && this._queueSeen) {
      for (const summary of arrived) this.notifier.newChat(summary);
    }
    this._queueSeen = true;
    this._refreshOpenSoon();
  }

  onPresence(frame) {
    if (!frame.agents) return;
    this.agents = new Map(frame.agents.map((a) => [a.id, { status: "offline", ...a }]));
    const mine = this.agents.get(this.me.id);
    if (mine && mine.status !== "offline") this.status = mine.status;
    this.topics.emit("agents");
    this.topics.emit("me");
  }

  onConversation({ conversation }) {
    const before = this.summary(conversation.id);
    const wasMine = this.isMine(before);
    this._put(conversation);
    const nowMine = this.isMine(conversation);
    if (nowMine !== wasMine) this._rebuildMine();
    if (nowMine && !wasMine && this.notifier && !this.takenHere.has(conversation.id)) {
      this.notifier.assigned(conversation);
    }
    if (conversation.status === "closed" && this.closedLoaded && !this.closedIds.includes(conversation.id)) {
      if (this.me.role === "admin" || conversation.agent_id === this.me.id) this.closedIds = [conversation.id, ...this.closedIds];
    }
    this._placeInOpen(conversation);
    this.topics.emit(`row:${conversation.id}`);
    this.topics.emit("lists");
    this.topics.emit("title");
    if (conversation.id === this.selected) this.topics.emit("selected");
    this._refreshOpenSoon();
  }

  onEvent(event) {
    const id = event.conversation_id;
    const transcript = this.transcript(id);
    if (!transcript.add(event)) return;
    this._summaryFromEvent(event);
    if (event.kind === "message" && event.author_type === "customer") {
      this._clearTyping(id);
      const summary = this.summary(id);
      if (this.notifier && this.welcomed && this.isMine(summary)) this.notifier.message(summary, event);
      if (id === this.selected && this.notifier?.visible()) this.markReadSoon(id);
    }
    this.topics.emit(`conv:${id}`);
    if (id === this.selected && event.kind !== "read") this.refreshPanel(id, { ifOlderThan: 10_000 });
  }

  onReset(frame) {
    const id = frame.conversation.id;
    this._put(frame.conversation);
    this.transcript(id).reset(frame.events || []);
    this.topics.emit(`conv:${id}`);
    this.topics.emit(`row:${id}`);
  }

  onTyping(frame) {
    if (frame.author_type !== "customer") return;
    const id = frame.conversation_id;
    this._clearTyping(id, false);
    if (frame.active) {
      const timer = setTimeout(() => this._clearTyping(id), TYPING_SHOWN_MS);
      this.typing.set(id, { timer });
    }
    this.topics.emit(`typing:${id}`);
  }

  onError(frame) {
    if (frame.client_id) {
      for (const transcript of this.transcripts.values()) {
        const pending = transcript.pending.get(frame.client_id);
        if (pending) {
          transcript.pending.set(frame.client_id, { ...pending, failed: frame.message });
          transcript.version += 1;
          this.topics.emit(`conv:${transcript.id}`);
          return;
        }
      }
    }
    this.toast(frame.message, "error");
  }

  onDisconnected() {
    this.connection = "reconnecting";
    this.topics.emit("connection");
  }

  // -------------------------------------------------------------- what the agent does

  select(id, { seq = null } = {}) {
    const changed = this.selected !== id;
    this.selected = id;
    if (changed) this.topics.emit("selected");
    if (!id) return;
    this._follow(id, seq);
    if (this.notifier?.visible()) this.markReadSoon(id);
    this.refreshPanel(id, { ifOlderThan: PANEL_FRESH_MS });
  }

  // One receipt for a burst: a replay of hundreds of messages into the open conversation must
  // not store hundreds of read events (each one is an event of the conversation, like a message).
  markReadSoon(id) {
    if (this.readTimers.has(id)) return;
    this.readTimers.set(id, setTimeout(() => {
      this.readTimers.delete(id);
      if (id === this.selected) this.markRead(id);
    }, READ_AFTER_MS));
  }

  markRead(id) {
    const summary = this.summary(id);
    const transcript = this.transcripts.get(id);
    if (!summary || !transcript || !this.client?.connected) return;
    // Ours (open or closed), or any open one for an admin: what the server takes a receipt for.
    if (!(summary.agent_id === this.me.id || (this.me.role === "admin" && summary.status !== "closed"))) return;
    const last = transcript.lastCustomerMessage();
    if (!last || last.seq <= (this.readSent.get(id) || 0)) return;
    this.readSent.set(id, transcript.highest);
    this.client.send({ type: "read", conversation_id: id, seq: transcript.highest });
    if (summary.agent_unread) {
      this.conversations.set(id, { ...summary, agent_unread: 0 });
      this.topics.emit(`row:${id}`);
      this.topics.emit("title");
    }
  }

  send(id, text, { note = false } = {}) {
    const clientId = this.client.sendMessage(text, id, note ? { private: true } : {});
    const transcript = this.transcript(id);
    transcript.pending.set(clientId, { text, private: note, failed: null });
    transcript.version += 1;
    this.client.send({ type: "typing", conversation_id: id, active: false });
    this.topics.emit(`conv:${id}`);
  }

  edit(id, seq, text) {
    this.client.sendTracked({ type: "message.edit", conversation_id: id, seq, text });
  }

  typingNow(id, active) {
    this.client?.send({ type: "typing", conversation_id: id, active });
  }

  take(id) {
    this.takenHere.add(id);
    this.client.sendTracked({ type: "conversation.take", conversation_id: id });
  }

  transfer(id, agentId, note) {
    const frame = { type: "conversation.transfer", conversation_id: id, agent_id: agentId };
    if (note && note.trim()) frame.note = note.trim();
    this.client.sendTracked(frame);
  }

  close(id) {
    this.client.sendTracked({ type: "conversation.close", conversation_id: id });
  }

  reopen(id) {
    this.takenHere.add(id);
    this.client.sendTracked({ type: "conversation.reopen", conversation_id: id });
  }

  setStatus(status) {
    this.status = status;
    this.client?.send({ type: "presence.set", status });
    this.topics.emit("me");
  }

  // `action`: a conversation to open from the toast; `whileWaiting`: gone once it leaves the queue.
  toast(text, kind = "info", action = null, { whileWaiting = false } = {}) {
    const toast = { id: Math.random().toString(36).slice(2), text, kind, action, whileWaiting };
    this.toasts = [...this.toasts, toast].slice(-4);
    this.topics.emit("toasts");
    setTimeout(() => this.dismiss(toast.id), kind === "error" ? 8000 : 6000);
  }

  dismiss(toastId) {
    this.toasts = this.toasts.filter((t) => t.id !== toastId);
    this.topics.emit("toasts");
  }

  // -------------------------------------------------------------- REST: views, history, panel

  async loadView(view) {
    if (view === "open") return this._loadOpen();
    if (view === "closed") return this._loadClosed(false);
    if (view === "waiting" && !this._queueSeen) {
      const page = await api("GET", `/api/v1/inbox${query({ view })}`);
      for (const summary of page.conversations) this._put(summary);
      this.waitingIds = page.conversations.map((s) => s.id);
      this.topics.emit("lists");
    }
    return undefined;
  }

  async loadMoreClosed() {
    if (this.closedNext) await this._loadClosed(true);
  }

  async loadOlder(id) {
    const transcript = this.transcript(id);
    if (transcript.complete || transcript.loading) return;
    await this._history(id, transcript.lowest || undefined);
  }

  async loadAround(id, seq) {
    const transcript = this.transcript(id);
    if (transcript.seqs.has(seq)) return;
    await this._history(id, seq + Math.floor(HISTORY_PAGE / 2));
    // Pages further back until the hit is held (bounded: a failing page must not loop forever).
    for (let pages = 0; pages < 50 && !transcript.seqs.has(seq) && !transcript.complete; pages += 1) {
      const lowest = transcript.lowest;
      if (lowest === null || lowest <= seq) break;
      await this._history(id, lowest);
      if (transcript.lowest === lowest) break;
    }
  }

  async refreshPanel(id, { ifOlderThan = 0 } = {}) {
    const known = this.panels.get(id);
    if (known && (known.loading || Date.now() - known.at < ifOlderThan)) return;
    this.panels.set(id, { ...(known || {}), loading: true, at: known?.at || 0 });
    try {
      const data = await api("GET", `/api/v1/conversations/${encodeURIComponent(id)}/customer`);
      this.panels.set(id, { data, at: Date.now(), error: null, loading: false });
    } catch (error) {
      this.panels.set(id, { data: known?.data || null, at: Date.now(), error: error.message, loading: false });
    }
    this.topics.emit(`panel:${id}`);
  }

  async cannedReplies() {
    if (this.replies === null) {
      this.replies = [];
      try {
        this.replies = (await api("GET", "/api/v1/canned-replies")).replies;
      } catch (error) {
        this.replies = null;
        throw error;
      }
    }
    return this.replies;
  }

  forgetCannedReplies() {
    this.replies = null;
  }

  async renderReply(replyId, conversationId) {
    const rendered = await api("POST", `/api/v1/canned-replies/${encodeURIComponent(replyId)}/render`, {
      conversation_id: conversationId,
    });
    return rendered.text;
  }

  // -------------------------------------------------------------- internals

  _put(summary) {
    const known = this.conversations.get(summary.id);
    // A list answer may be older than a live event already applied: keep the later of the two.
    if (known && known.last_seq > summary.last_seq) return;
    this.conversations.set(summary.id, { agent_unread: 0, ...summary });
    this.topics.emit(`row:${summary.id}`);
  }

  _summaryFromEvent(event) {
    const known = this.summary(event.conversation_id);
    if (!known) return;
    const next = { ...known, last_seq: Math.max(known.last_seq, event.seq) };
    let reorder = false;
    if (event.kind === "message") {
      next.preview = event.text;
      next.last_message_at = event.at;
      reorder = true;
      if (event.author_type === "customer" && !(event.conversation_id === this.selected && this.notifier?.visible())) {
        next.agent_unread = (known.agent_unread || 0) + 1;
      }
    } else if (event.kind === "read" && event.author_type === "agent") {
      next.agent_unread = 0;
    } else if (event.kind === "status") {
      next.status = event.status;
      if (event.status === "assigned" && event.agent_id) next.agent_id = event.agent_id;
      if (event.status === "waiting") next.agent_id = null;
    } else if (event.kind === "assigned") {
      next.status = "assigned";
      next.agent_id = event.agent_id;
    }
    this.conversations.set(event.conversation_id, next);
    const mineChanged = this.isMine(known) !== this.isMine(next);
    if (mineChanged || (reorder && this.isMine(next))) this._rebuildMine();
    if (reorder || mineChanged || known.status !== next.status) {
      this._placeInOpen(next);
      this.topics.emit("lists");
    }
    this.topics.emit(`row:${event.conversation_id}`);
    this.topics.emit("title");
  }

  _rebuildMine() {
    const mine = [];
    for (const summary of this.conversations.values()) if (this.isMine(summary)) mine.push(summary);
    mine.sort((a, b) => activity(b) - activity(a));
    this.mineIds = mine.map((s) => s.id);
  }

  _placeInOpen(summary) {
    if (!this.openLoaded) return;
    const ids = this.openIds.filter((id) => id !== summary.id);
    if (summary.status !== "closed") ids.push(summary.id);
    ids.sort((a, b) => activity(this.summary(b)) - activity(this.summary(a)));
    this.openIds = ids;
  }

  // Whether the socket may follow it: ours, the queue's, or (admins) anyone's open one.
  followsLive(id) {
    const summary = this.summary(id);
    if (!summary || summary.status === "closed") return false;
    return this.isMine(summary) || summary.status === "waiting" || this.me.role === "admin";
  }

  _follow(id, seq = null) {
    const summary = this.summary(id);
    const transcript = this.transcript(id);
    if (this.followsLive(id) && this.client?.connected) {
      // Following it live: the socket replays what we lack, then sends what comes.
      if (!this.isMine(summary)) {
        this.client.send({ type: "resume", conversation_id: id, after: this.client.cursors[id] || 0 });
      }
      if (seq) this.loadAround(id, seq);
    } else if (seq) {
      this.loadAround(id, seq);
    } else if (!transcript.highest || !summary || summary.status === "closed") {
      this._history(id, undefined);
    }
  }

  async _history(id, before) {
    const transcript = this.transcript(id);
    transcript.loading = true;
    this.topics.emit(`conv:${id}`);
    try {
      const page = await api(
        "GET",
        `/api/v1/conversations/${encodeURIComponent(id)}/history${query({ before, limit: HISTORY_PAGE })}`,
      );
      this._put(page.conversation);
      this.writable.set(id, page.writable);
      for (const event of page.events) transcript.add(event);
      if (page.next_before === null) transcript.complete = true;
    } catch (error) {
      if (error.status === 404) transcript.missing = true;
      else this.toast(`Could not load the conversation: ${error.message}`, "error");
    } finally {
      transcript.loading = false;
      transcript.version += 1;
      this.topics.emit(`conv:${id}`);
      this.topics.emit(`row:${id}`);
    }
  }

  async _loadOpen() {
    const page = await api("GET", `/api/v1/inbox${query({ view: "open", limit: 500 })}`);
    for (const summary of page.conversations) this._put(summary);
    this.openIds = page.conversations.map((s) => s.id);
    this.openLoaded = true;
    this.topics.emit("lists");
  }

  async _loadClosed(more) {
    const page = await api(
      "GET",
      `/api/v1/inbox${query({ view: "closed", limit: CLOSED_PAGE, before: more ? this.closedNext : null })}`,
    );
    for (const summary of page.conversations) this._put(summary);
    const ids = page.conversations.map((s) => s.id);
    this.closedIds = more ? [...this.closedIds, ...ids.filter((id) => !this.closedIds.includes(id))] : ids;
    this.closedNext = page.next_before;
    this.closedLoaded = true;
    this.topics.emit("lists");
  }

  _refreshOpenSoon() {
    // Another agent took, transferred or closed something: All open is read again, once per burst.
    if (!this.openLoaded || this._openRefresh) return;
    this._openRefresh = setTimeout(() => {
      this._openRefresh = null;
      this._loadOpen().catch(() => {});
    }, 400);
  }

  _clearTyping(id, emit = true) {
    const typing = this.typing.get(id);
    if (!typing) return;
    clearTimeout(typing.timer);
    this.typing.delete(id);
    if (emit) this.topics.emit(`typing:${id}`);
  }
}
