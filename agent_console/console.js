// The agent console: log in, see the queue, take chats, answer, write notes, transfer, close.
// Built on the same protocol client as the widget; every customer string is shown as text.
import { RapportClient } from "/widget/client.js";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, data };
}

const state = {
  me: null,
  client: null,
  conversations: new Map(), // id -> summary (mine)
  waiting: [],
  agents: [],
  events: new Map(), // conversation id -> events by seq
  selected: null,
  pendingEls: new Map(),
};

function customerLabel(summary) {
  return summary.customer_name || `Visitor ${summary.customer_id.slice(-5)}`;
}

function renderLists() {
  const queue = $("queue");
  queue.replaceChildren();
  $("waiting-count").textContent = String(state.waiting.length);
  for (const summary of state.waiting) {
    const item = el("li", { "data-testid": "queue-item", "data-conversation-id": summary.id });
    item.append(el("span", { class: "preview" }, `${customerLabel(summary)}: ${summary.preview || ""}`));
    const take = el("button", { "data-testid": "take" }, "Take");
    take.addEventListener("click", (e) => {
      e.stopPropagation();
      state.client.sendTracked({ type: "conversation.take", conversation_id: summary.id });
    });
    item.append(take);
    queue.append(item);
  }
  const mine = $("mine");
  mine.replaceChildren();
  for (const summary of state.conversations.values()) {
    const item = el("li", { "data-testid": "mine-item", "data-conversation-id": summary.id,
      class: summary.id === state.selected ? "active" : "" });
    item.append(el("span", { class: "preview" }, `${customerLabel(summary)}: ${summary.preview || ""}`));
    item.addEventListener("click", () => select(summary.id));
    mine.append(item);
  }
}

function renderTransferOptions() {
  const select = $("transfer-select");
  select.replaceChildren();
  for (const agent of state.agents) {
    if (state.me && agent.id === state.me.id) continue;
    select.append(el("option", { value: agent.id }, `${agent.name} (${agent.status})`));
  }
}

function select(conversationId) {
  state.selected = conversationId;
  const summary = state.conversations.get(conversationId);
  $("empty").hidden = !!summary;
  $("conversation").hidden = !summary;
  if (!summary) return renderLists();
  $("conversation-title").textContent = customerLabel(summary);
  renderTranscript();
  renderLists();
  const events = [...(state.events.get(conversationId) || new Map()).keys()];
  if (events.length) state.client.send({ type: "read", conversation_id: conversationId, seq: Math.max(...events) });
}

function renderTranscript() {
  const transcript = $("transcript");
  transcript.replaceChildren();
  const events = state.events.get(state.selected) || new Map();
  for (const event of [...events.values()].sort((a, b) => a.seq - b.seq)) {
    if (event.kind === "message" || event.kind === "note") {
      const who = event.author_type === "customer" ? "customer" : "agent";
      const node = el("div", {
        class: `msg ${event.kind === "note" ? "note" : who}`,
        "data-testid": event.kind === "note" ? "transcript-note" : "transcript-message",
        "data-author": who,
      });
      const label = event.kind === "note" ? `Private note · ${event.author_name || ""}` : event.author_name;
      if (label) node.append(el("span", { class: "who" }, label));
      node.append(el("span", { class: "text" }, event.edited || event.text));
      transcript.append(node);
    } else if (event.kind === "assigned") {
      const agent = state.agents.find((a) => a.id === event.agent_id);
      transcript.append(el("div", { class: "system" }, `Assigned to ${agent ? agent.name : "an agent"}`));
    } else if (event.kind === "status") {
      transcript.append(el("div", { class: "system" }, `Conversation ${event.status}`));
    } else if (event.kind === "read" && event.author_type === "customer") {
      transcript.append(el("div", { class: "system" }, "Seen by the customer"));
    }
  }
  transcript.scrollTop = transcript.scrollHeight;
}

function applyEvent(event) {
  if (!state.events.has(event.conversation_id)) state.events.set(event.conversation_id, new Map());
  const events = state.events.get(event.conversation_id);
  if (event.kind === "edit") {
    const target = events.get(event.target_seq);
    if (target) target.edited = `${event.text} (edited)`;
  }
  events.set(event.seq, event);
  const summary = state.conversations.get(event.conversation_id);
  if (summary && event.kind === "message") summary.preview = event.text;
  if (event.conversation_id === state.selected) {
    renderTranscript();
    if (event.author_type === "customer") {
      state.client.send({ type: "read", conversation_id: event.conversation_id, seq: event.seq });
    }
  }
  renderLists();
}

function connect() {
  const url = location.origin.replace(/^http/, "ws") + "/ws/agent";
  const client = new RapportClient({ url, storage: window.sessionStorage, storageKey: "rapport.console" });
  state.client = client;
  client
    .on("welcome", (w) => {
      state.me = w.agent;
      $("me-name").textContent = w.agent.name;
      // Fields at their default are left out of frames: an empty list arrives as no field.
      const conversations = w.conversations || [];
      for (const summary of conversations) state.conversations.set(summary.id, summary);
      $("connection").textContent = "";
      renderLists();
      if (!state.selected && conversations.length) select(conversations[0].id);
    })
    .on("queue", (q) => {
      state.waiting = q.waiting || [];
      renderLists();
    })
    .on("presence", (p) => {
      state.agents = p.agents || state.agents;
      renderTransferOptions();
    })
    .on("conversation", ({ conversation }) => {
      const mine = conversation.agent_id === state.me?.id && conversation.status === "assigned";
      if (mine) {
        state.conversations.set(conversation.id, conversation);
        if (!state.selected) select(conversation.id);
      } else {
        state.conversations.delete(conversation.id);
        if (state.selected === conversation.id) select(null);
      }
      renderLists();
    })
    .on("event", applyEvent)
    .on("reset", (r) => {
      state.events.set(r.conversation.id, new Map());
      (r.events || []).forEach(applyEvent);
    })
    .on("typing", (t) => {
      if (t.conversation_id !== state.selected || t.author_type !== "customer") return;
      $("typing").textContent = t.active ? "The customer is typing…" : "";
      clearTimeout(state.typingTimer);
      if (t.active) state.typingTimer = setTimeout(() => ($("typing").textContent = ""), 6000);
    })
    .on("error", (err) => {
      $("connection").textContent = err.message;
    })
    .on("disconnected", () => {
      $("connection").textContent = "Reconnecting…";
    })
    .on("terminal", () => showLogin());
  client.start();
}

function showLogin() {
  if (state.client) state.client.stop();
  $("app").hidden = true;
  $("login").hidden = false;
}

function showApp(agent) {
  state.me = agent;
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = agent.name;
  connect();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const result = await api("POST", "/api/v1/session", { email: form.get("email"), password: form.get("password") });
    if (result.ok) showApp(result.data.agent);
    else $("login-error").textContent = (result.data && result.data.detail) || "Could not log in";
  });
  $("logout").addEventListener("click", async () => {
    await api("DELETE", "/api/v1/session");
    showLogin();
  });
  $("presence").addEventListener("change", (e) => state.client.send({ type: "presence.set", status: e.target.value }));
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text || !state.selected) return;
    $("text").value = "";
    state.client.sendMessage(text, state.selected, $("note").checked ? { private: true } : {});
    state.client.send({ type: "typing", conversation_id: state.selected, active: false });
  });
  let lastTyping = 0;
  $("text").addEventListener("input", () => {
    if (state.selected && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      state.client.send({ type: "typing", conversation_id: state.selected, active: true });
    }
  });
  $("transfer").addEventListener("click", () => {
    const agentId = $("transfer-select").value;
    if (agentId && state.selected) {
      state.client.sendTracked({ type: "conversation.transfer", conversation_id: state.selected, agent_id: agentId });
    }
  });
  $("close").addEventListener("click", () => {
    if (state.selected) state.client.sendTracked({ type: "conversation.close", conversation_id: state.selected });
  });
  const session = await api("GET", "/api/v1/session");
  if (session.ok) showApp(session.data.agent);
  else showLogin();
});
