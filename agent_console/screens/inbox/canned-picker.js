// The canned replies picker: '/' in the composer opens it, typing filters it, arrows move, Enter
// or Tab inserts the reply rendered for this customer, Escape closes it.
import { html } from "../../lib/html.js";

export function matching(replies, filter) {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return replies.filter((reply) => {
    const haystack = `${reply.shortcut} ${reply.title} ${reply.body}`.toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

export function CannedPicker({ replies, filter, active, onPick, error }) {
  if (error) return html`<div class="picker" role="listbox"><p class="empty-list">${error}</p></div>`;
  if (replies === null) return html`<div class="picker"><p class="empty-list">Loading canned replies…</p></div>`;
  const shown = matching(replies, filter);
  return html`
    <div class="picker" role="listbox" aria-label="Canned replies" data-testid="canned-picker">
      ${shown.length === 0 && html`<p class="empty-list">No canned reply matches “${filter}”.</p>`}
      ${shown.slice(0, 8).map(
        (reply, i) => html`
          <button key=${reply.id} type="button" role="option" aria-selected=${i === active ? "true" : "false"}
            class=${`option ${i === active ? "active" : ""}`} data-testid="canned-option"
            onMouseDown=${(e) => { e.preventDefault(); onPick(reply); }}>
            <span class="shortcut">/${reply.shortcut}</span>
            <span class="title">${reply.title}</span>
            <span class="body">${reply.body}</span>
          </button>`,
      )}
    </div>`;
}
