// The bar above every screen: the role's screens, and for agents their status, load and cap.
import { html, useState } from "../lib/html.js";
import { inboxPath } from "../state/router.js";
import { useTopics } from "../state/topics.js";

function Presence({ world, me }) {
  const inbox = world.inbox;
  useTopics(world.topics, "me", "lists", "connection");
  const load = inbox.mineIds.length;
  return html`
    <div class="presence">
      <span class=${`dot ${inbox.connection === "online" ? inbox.status : "offline"}`} aria-hidden="true"></span>
      <select data-testid="presence-select" aria-label="Your status" value=${inbox.status}
        onChange=${(e) => inbox.setStatus(e.target.value)}>
        <option value="online">Online</option>
        <option value="away">Away</option>
      </select>
      <span class=${`cap ${load >= me.max_concurrent ? "full" : ""}`} data-testid="cap"
        title="Open chats you have, and the most auto-assignment gives you">${load} / ${me.max_concurrent} chats</span>
      ${inbox.connection !== "online" && html`<span class="connection" role="status">${inbox.connection === "connecting" ? "Connecting…" : "Reconnecting…"}</span>`}
    </div>`;
}

function NotificationsToggle({ world }) {
  // Read once: the browser answers Notification.permission slowly, and the bar renders often.
  const [permission, setPermission] = useState(() => world.notifier.permission);
  if (permission !== "default") return null;
  const ask = async () => setPermission(await world.notifier.askPermission());
  return html`<button class="ghost small" data-testid="enable-notifications" onClick=${ask}
    title="Desktop notifications for new chats and messages while this tab is hidden">Enable notifications</button>`;
}

export function TopBar({ me, world, screens, current, titles, onLogout }) {
  return html`
    <header class="top-bar">
      <strong class="brand">Rapport</strong>
      <nav aria-label="Screens">
        ${screens.map(
          (screen) => html`<a key=${screen} href=${screen === "inbox" ? inboxPath("mine") : `#/${screen}`}
            class=${screen === current ? "current" : ""} aria-current=${screen === current ? "page" : undefined}
            data-testid=${`nav-${screen}`}>${titles[screen]}</a>`,
        )}
      </nav>
      <span class="spacer"></span>
      ${world.inbox && html`<${NotificationsToggle} world=${world} />`}
      ${world.inbox && html`<${Presence} world=${world} me=${me} />`}
      <span class="who" data-testid="me-name">${me.name} <small>${me.role}</small></span>
      <button class="ghost small" data-testid="logout" onClick=${onLogout}>Log out</button>
    </header>`;
}
