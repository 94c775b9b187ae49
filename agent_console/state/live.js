// The agent's socket: the protocol client shared with the widget, its frames handed to the inbox.
import { RapportClient } from "/widget/client.js";
import { Limits } from "/widget/protocol.js";

export function connect(inbox, { onTerminal }) {
  const client = new RapportClient({
    url: location.origin.replace(/^http/, "ws") + "/ws/agent",
    storage: window.sessionStorage,
    storageKey: "rapport.console",
    helloFields: () => ({
      // Come back as we were (an away agent is not given chats on reconnecting), and resume the
      // conversations that matter first: a hello carries at most Limits.RESUME_MAX cursors.
      status: inbox.status,
      resume: cursorsWorthResuming(inbox, client.cursors),
    }),
  });
  inbox.client = client;
  client
    .on("welcome", (w) => inbox.onWelcome(w))
    .on("queue", (q) => inbox.onQueue(q))
    .on("presence", (p) => inbox.onPresence(p))
    .on("conversation", (c) => inbox.onConversation(c))
    .on("event", (e) => inbox.onEvent(e))
    .on("reset", (r) => inbox.onReset(r))
    .on("typing", (t) => inbox.onTyping(t))
    .on("error", (e) => inbox.onError(e))
    .on("disconnected", () => inbox.onDisconnected())
    .on("terminal", (t) => onTerminal(t.code));
  client.start();
  return client;
}

function cursorsWorthResuming(inbox, cursors) {
  const first = [...inbox.mineIds, ...inbox.waitingIds];
  if (inbox.selected && inbox.followsLive(inbox.selected)) first.unshift(inbox.selected);
  const picked = {};
  let count = 0;
  // Only what we may follow now: a cursor of a chat that changed hands would be refused.
  for (const id of first) {
    if (count >= Limits.RESUME_MAX) break;
    if (id && id in cursors && !(id in picked)) {
      picked[id] = cursors[id];
      count += 1;
    }
  }
  return picked;
}
