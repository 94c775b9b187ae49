// The logged-in console: the top bar with the screens of the agent's role, and the screen the
// address names. Agents and admins get the inbox (with its socket); marketers the studio.
import { api } from "../lib/api.js";
import { html, useEffect, useMemo } from "../lib/html.js";
import { CloseCode } from "/widget/protocol.js";
import { Inbox } from "../state/inbox.js";
import { connect } from "../state/live.js";
import { Notifier, titleFor } from "../state/notify.js";
import { SCREENS_BY_ROLE, go, inboxPath, landing, replace, useRoute } from "../state/router.js";
import { Topics, useTopics } from "../state/topics.js";
import { AgentsScreen } from "./admin/agents-screen.js";
import { CannedRepliesScreen } from "./admin/canned-replies-screen.js";
import { InboxScreen } from "./inbox/inbox-screen.js";
import { SearchScreen } from "./search/search-screen.js";
import { StudioScreen } from "./studio/studio-screen.js";
import { Toasts } from "./toasts.js";
import { TopBar } from "./top-bar.js";

const TITLES = { inbox: "Inbox", search: "Search", agents: "Agents", canned: "Canned replies", studio: "Studio" };

function startWorld(me, onLoggedOut) {
  const topics = new Topics();
  if (me.role !== "agent" && me.role !== "admin") return { topics, inbox: null, stop() {} };
  let inbox = null;
  const notifier = new Notifier({
    onToast: (text, conversationId, options) => inbox.toast(text, "info", conversationId, options),
    onOpen: (conversationId) => go(inboxPath(inbox.viewOf(conversationId), conversationId)),
  });
  inbox = new Inbox({ topics, me, notifier });
  const client = connect(inbox, {
    onTerminal: (code) => {
      const why = code === CloseCode.SESSION_ENDED ? "Your session ended: please log in again." : "";
      onLoggedOut(why);
    },
  });
  const unlock = () => notifier.unlockSound();
  window.addEventListener("pointerdown", unlock, { once: true });
  window.addEventListener("keydown", unlock, { once: true });
  const visible = () => {
    if (document.visibilityState === "visible" && inbox.selected) inbox.markReadSoon(inbox.selected);
  };
  document.addEventListener("visibilitychange", visible);
  return {
    topics,
    inbox,
    notifier,
    stop() {
      client.stop();
      document.removeEventListener("visibilitychange", visible);
    },
  };
}

function Title({ world, screen }) {
  useTopics(world.topics, "title");
  const base = `${TITLES[screen] || "Console"} · Rapport`;
  const title = titleFor(world.inbox ? world.inbox.unreadTotal() : 0, base);
  useEffect(() => {
    if (document.title !== title) document.title = title; // a write costs a trip to the browser
  }, [title]);
  return null;
}

export function Workspace({ me, onLoggedOut }) {
  const route = useRoute();
  const world = useMemo(() => startWorld(me, onLoggedOut), [me.id]);
  useEffect(() => () => world.stop(), [world]);
  const screens = SCREENS_BY_ROLE[me.role] || ["studio"];
  const screen = screens.includes(route.screen) ? route.screen : null;
  useEffect(() => {
    if (!screen) replace(landing(me.role) === "inbox" ? inboxPath("mine") : `#/${landing(me.role)}`);
  }, [screen, me.role]);

  const logout = async () => {
    await api("DELETE", "/api/v1/session").catch(() => {});
    onLoggedOut("");
  };

  let body = null;
  if (screen === "inbox") body = html`<${InboxScreen} world=${world} route=${route} />`;
  else if (screen === "search") body = html`<${SearchScreen} world=${world} route=${route} />`;
  else if (screen === "agents") body = html`<${AgentsScreen} me=${me} />`;
  else if (screen === "canned") body = html`<${CannedRepliesScreen} world=${world} />`;
  else if (screen === "studio") body = html`<${StudioScreen} me=${me} route=${route} />`;

  return html`
    <div class="app" data-role=${me.role}>
      <${Title} world=${world} screen=${screen} />
      <${TopBar} me=${me} world=${world} screens=${screens} current=${screen} titles=${TITLES} onLogout=${logout} />
      <div class="screen">${body}</div>
      ${world.inbox && html`<${Toasts} inbox=${world.inbox} topics=${world.topics} />`}
    </div>`;
}
