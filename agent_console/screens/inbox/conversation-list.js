// The views (Waiting, Mine, All open, Closed) with their counts, and the list of the chosen one.
// A row renders again only when its own conversation changed (row:<id>), the list when its order did.
import { html, Pure } from "../../lib/html.js";
import { shortWhen } from "../../lib/time.js";
import { customerLabel, VIEWS } from "../../state/inbox.js";
import { go, inboxPath } from "../../state/router.js";
import { useTopics } from "../../state/topics.js";

const LABELS = { waiting: "Waiting", mine: "Mine", open: "All open", closed: "Closed" };

export function ViewTabs({ inbox, topics, view }) {
  useTopics(topics, "lists", "title");
  const count = (v) => {
    if (v === "closed") return null;
    if (v === "open" && !inbox.openLoaded) return null;
    return inbox.ids(v).length;
  };
  const unread = (v) => inbox.ids(v).reduce((n, id) => n + (inbox.summary(id)?.agent_unread || 0), 0);
  return html`
    <nav class="views" aria-label="Inbox views">
      ${VIEWS.map((v) => {
        const n = count(v);
        const u = v === "mine" || v === "waiting" ? unread(v) : 0;
        return html`<a key=${v} href=${inboxPath(v)} class=${v === view ? "current" : ""} data-testid=${`view-${v}`}
            aria-current=${v === view ? "page" : undefined}>
          ${LABELS[v]}
          ${n !== null && html`<span class="count" data-testid=${`count-${v}`}>${n}</span>`}
          ${u > 0 && html`<span class="unread" title="unread messages">${u}</span>`}
        </a>`;
      })}
    </nav>`;
}

class Row extends Pure {
  componentDidMount() {
    this.off = this.props.topics.subscribe(`row:${this.props.id}`, () => this.forceUpdate());
  }

  componentWillUnmount() {
    this.off();
  }

  render({ inbox, id, view, active }) {
    const s = inbox.summary(id);
    if (!s) return null;
    const who = s.agent_id ? inbox.agentName(s.agent_id) : null;
    const unread = s.status === "closed" ? 0 : s.agent_unread || 0; // nobody answers a closed one
    const open = (e) => {
      e.preventDefault();
      go(inboxPath(view, id));
    };
    return html`
      <li class=${`row ${active ? "active" : ""} ${unread ? "has-unread" : ""}`} data-testid="conversation-row"
        data-conversation-id=${id} data-status=${s.status}>
        <a href=${inboxPath(view, id)} onClick=${open} aria-current=${active ? "true" : undefined}>
          <span class="avatar" aria-hidden="true">${customerLabel(s).slice(0, 1).toUpperCase()}</span>
          <span class="main">
            <span class="line">
              <span class="name" data-testid="row-name">${customerLabel(s)}</span>
              <time class="when">${shortWhen(s.last_message_at || s.created_at)}</time>
            </span>
            <span class="line">
              <span class="preview" data-testid="row-preview">${s.preview || ""}</span>
              ${unread > 0 && html`<span class="unread" data-testid="row-unread" aria-label=${`${unread} unread`}>${unread}</span>`}
            </span>
            ${(view === "open" || view === "closed") && html`<span class="line meta">
              <span class=${`status ${s.status}`}>${s.status === "waiting" ? "Waiting" : s.status === "closed" ? "Closed" : "Open"}</span>
              ${who && html`<span class="assignee" data-testid="row-assignee">${s.status === "closed" ? "by" : "with"} ${who}</span>`}
            </span>`}
          </span>
        </a>
        ${s.status === "waiting" && html`<button class="small take" data-testid="take"
          onClick=${(e) => { e.stopPropagation(); inbox.take(id); go(inboxPath("mine", id)); }}>Take</button>`}
      </li>`;
  }
}

export function ConversationList({ inbox, topics, view, selected }) {
  useTopics(topics, "lists");
  const ids = inbox.ids(view);
  const empty = {
    waiting: "Nobody is waiting.",
    mine: "No open chats. Take one from Waiting, or wait for one to be assigned.",
    open: inbox.openLoaded ? "No open conversations." : "Loading…",
    closed: inbox.closedLoaded ? "Nothing closed yet." : "Loading…",
  }[view];
  return html`
    <div class="list-wrap">
      <ul class="rows" data-testid=${`list-${view}`} aria-label=${LABELS[view]}>
        ${ids.map((id) => html`<${Row} key=${id} id=${id} inbox=${inbox} topics=${topics} view=${view} active=${id === selected} />`)}
      </ul>
      ${ids.length === 0 && html`<p class="empty-list">${empty}</p>`}
      ${view === "closed" && inbox.closedNext && html`<button class="ghost more" onClick=${() => inbox.loadMoreClosed()}>Older…</button>`}
    </div>`;
}
