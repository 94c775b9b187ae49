// The history tab: the shopper's earlier conversations (from any device once logged in), to read back or start anew.
import { html } from "./ui.js";

export function ThreadsView({ chat, t, f }) {
  const list = [...chat.conversations.values()].sort((a, b) => b.created_at - a.created_at);
  return html`
    <div class="view">
      <div class="scroll" data-testid="rapport-threads">
        <button class="primary" type="button" data-testid="rapport-new-thread" onClick=${() => chat.show(null)}>
          ${t("newConv")}</button>
        ${list.length === 0 && html`<p class="note">${t("noThreads")}</p>`}
        ${list.map((c) => html`
          <button type="button" class="thread" key=${c.id} data-testid="rapport-thread" data-id=${c.id}
            onClick=${() => chat.show(c.id)}>
            <span class="meta">${f.date(c.created_at)} · ${t(`st_${c.status}`)}</span>
            <span class="preview">${c.preview || "…"}</span>
          </button>`)}
      </div>
    </div>`;
}
