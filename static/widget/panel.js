// The open panel: its header, tabs (chat, updates, orders, history), focus kept inside, Escape to
// close; and, while it is closed, the card of a new push over the launcher.
import { Card } from "./card.js";
import { ChatView, initial } from "./chat.js";
import { html, Later, useEffect, useRef, useState } from "./ui.js";

// The tabs besides the chat are fetched when first opened (most shoppers only chat).
const VIEWS = {
  updates: () => import("./updates.js").then((m) => m.UpdatesView),
  orders: () => import("./orders.js").then((m) => m.OrdersView),
  threads: () => import("./threads.js").then((m) => m.ThreadsView),
};

const FOCUSABLE = "button:not([disabled]),input,textarea,a[href],[tabindex]:not([tabindex='-1'])";

function tabsOf(chat) {
  const tabs = ["chat"];
  if (chat.identified || chat.notifications.size) tabs.push("updates");
  if (chat.identified) tabs.push("orders");
  if (chat.identified || chat.conversations.size) tabs.push("threads");
  return tabs;
}

function statusOf(chat, t) {
  if (chat.unavailable) return t("unavailable");
  if (!chat.connected) return chat.everConnected ? t("reconnecting") : "…";
  return chat.agentsOnline ? t("online") : t("offline");
}

function Tabs({ chat, t, tabs }) {
  const counts = { chat: chat.open ? 0 : chat.unread, updates: chat.unseenUpdates };
  function key(e) {
    const at = tabs.indexOf(chat.view);
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    chat.view = tabs[(at + step + tabs.length) % tabs.length];
    chat.changed();
    queueMicrotask(() => chat.root.getElementById(`rapport-tab-${chat.view}`)?.focus());
  }
  return html`<div class="tabs" role="tablist" onKeyDown=${key}>
    ${tabs.map((name) => html`
      <button type="button" role="tab" id=${`rapport-tab-${name}`} aria-controls=${`rapport-view-${name}`}
        aria-selected=${chat.view === name} tabindex=${chat.view === name ? 0 : -1} data-testid=${`rapport-tab-${name}`}
        onClick=${() => {
          if (name === "chat") chat.show(chat.current);
          chat.view = name;
          chat.changed();
        }}>
        ${t(name === "threads" ? "threads" : name)}${counts[name] ? html`<span class="count">${counts[name]}</span>` : ""}
      </button>`)}
  </div>`;
}

export function App({ chat, t, f, config, side, controls }) {
  const [, redraw] = useState(0);
  const panel = useRef(null);
  useEffect(() => chat.subscribe(() => redraw((n) => n + 1)), []);
  useEffect(() => {
    if (chat.open) panel.current?.querySelector("textarea,[aria-selected=true]")?.focus();
  }, [chat.open]);
  const tabs = tabsOf(chat);
  if (!tabs.includes(chat.view)) chat.view = "chat";

  function trap(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      controls.toggle(false);
      return;
    }
    if (e.key !== "Tab") return;
    const all = [...panel.current.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el.getClientRects().length);
    if (!all.length) return;
    const active = chat.root.activeElement;
    if (e.shiftKey && (active === all[0] || !panel.current.contains(active))) {
      e.preventDefault();
      all[all.length - 1].focus();
    } else if (!e.shiftKey && active === all[all.length - 1]) {
      e.preventDefault();
      all[0].focus();
    }
  }

  const agent = chat.agentOf(chat.current);
  const title = config.title || t("title");
  return html`
    <div class="sr" role="status" aria-live="polite" data-testid="rapport-live">${chat.live}</div>
    ${!chat.open && html`<${Card} chat=${chat} t=${t} f=${f} side=${side} onOpen=${(seq) => controls.openAt(seq)} />`}
    ${chat.open && html`
      <section class=${`panel ${side}`} ref=${panel} role="dialog" aria-modal="true" aria-label=${title}
        data-testid="rapport-panel" onKeyDown=${trap}>
        <header class="top">
          <span class="avatar" aria-hidden="true">${initial(agent?.name || title)}</span>
          <div class="who">
            <h2>${title}</h2>
            ${agent?.name && html`<p data-testid="rapport-agent">${agent.name}</p>`}
            <p data-testid="rapport-status">${statusOf(chat, t)}</p>
          </div>
          <button class="x" type="button" aria-label=${t("close")} data-testid="rapport-close"
            onClick=${() => controls.toggle(false)}>×</button>
        </header>
        ${tabs.length > 1 && html`<${Tabs} chat=${chat} t=${t} tabs=${tabs} />`}
        <div class="pane" role=${tabs.length > 1 ? "tabpanel" : null} id=${`rapport-view-${chat.view}`}
          aria-labelledby=${tabs.length > 1 ? `rapport-tab-${chat.view}` : null}>
          ${chat.view === "chat"
            ? html`<${ChatView} chat=${chat} t=${t} f=${f} config=${config} />`
            : html`<${Later} key=${chat.view} load=${VIEWS[chat.view]} chat=${chat} t=${t} f=${f} />`}
        </div>
      </section>`}`;
}
