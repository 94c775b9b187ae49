// The inbox: views and the list on the left, the conversation in the middle, the customer on the
// right. Keyboard: Alt+↓/↑ (or j/k) next and previous chat, r reply, n note, / search.
import { html, useEffect, useState } from "../../lib/html.js";
import { VIEWS } from "../../state/inbox.js";
import { go, inboxPath } from "../../state/router.js";
import { ConversationList, ViewTabs } from "./conversation-list.js";
import { ConversationPane } from "./conversation-pane.js";
import { CustomerPanel } from "./customer-panel.js";

function typingInField(target) {
  return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
}

function focusComposer(mode) {
  const tab = document.querySelector(`[data-testid="composer-tab-${mode}"]`);
  if (tab) tab.click();
  document.querySelector('[data-testid="composer-input"]')?.focus();
}

export function InboxScreen({ world, route }) {
  const { inbox, topics } = world;
  const view = VIEWS.includes(route.view) ? route.view : "mine";
  const id = route.conversation;
  const [panelOpen, setPanelOpen] = useState(true);

  useEffect(() => {
    inbox.loadView(view).catch((error) => inbox.toast(error.message, "error"));
  }, [view]);
  useEffect(() => {
    inbox.select(id, { seq: route.seq });
  }, [id, route.seq]);

  useEffect(() => {
    const keydown = (e) => {
      const field = typingInField(e.target);
      const step = (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) || (!field && !e.altKey && !e.ctrlKey && !e.metaKey && (e.key === "j" || e.key === "k"));
      if (step) {
        e.preventDefault();
        const ids = inbox.ids(view);
        if (!ids.length) return;
        const at = ids.indexOf(inbox.selected);
        const down = e.key === "ArrowDown" || e.key === "j";
        const next = at === -1 ? 0 : Math.min(ids.length - 1, Math.max(0, at + (down ? 1 : -1)));
        go(inboxPath(view, ids[next]));
        return;
      }
      if (field || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "r" || e.key === "n") {
        e.preventDefault();
        focusComposer(e.key === "r" ? "reply" : "note");
      } else if (e.key === "/") {
        e.preventDefault();
        go("#/search");
      }
    };
    window.addEventListener("keydown", keydown);
    return () => window.removeEventListener("keydown", keydown);
  }, [view]);

  return html`
    <div class=${`inbox ${id ? "has-conversation" : ""} ${panelOpen ? "panel-open" : "panel-closed"}`}>
      <aside class="lists" aria-label="Conversations">
        <${ViewTabs} inbox=${inbox} topics=${topics} view=${view} />
        <${ConversationList} inbox=${inbox} topics=${topics} view=${view} selected=${id} />
        <p class="shortcuts muted">Alt+↑/↓ chats · r reply · n note · / search</p>
      </aside>
      ${id
        ? html`<${ConversationPane} key=${id} inbox=${inbox} topics=${topics} id=${id} focusSeq=${route.seq}
            onTogglePanel=${() => setPanelOpen(!panelOpen)} />`
        : html`<section class="conversation empty-pane"><p>Pick a conversation on the left.</p></section>`}
      ${id && panelOpen && html`<${CustomerPanel} inbox=${inbox} topics=${topics} id=${id} />`}
    </div>`;
}
