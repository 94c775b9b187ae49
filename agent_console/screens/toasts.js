// Short messages in a corner: a new chat (click to open it), an action the server refused.
import { html } from "../lib/html.js";
import { go, inboxPath } from "../state/router.js";
import { useTopics } from "../state/topics.js";

export function Toasts({ inbox, topics }) {
  useTopics(topics, "toasts");
  return html`
    <div class="toasts" role="status" aria-live="polite">
      ${inbox.toasts.map(
        (toast) => html`
          <div key=${toast.id} class=${`toast ${toast.kind}`} data-testid="toast">
            ${toast.action
              ? html`<button class="link" onClick=${() => { go(inboxPath(inbox.viewOf(toast.action), toast.action)); inbox.dismiss(toast.id); }}>${toast.text}</button>`
              : html`<span>${toast.text}</span>`}
            <button class="close" aria-label="Dismiss" onClick=${() => inbox.dismiss(toast.id)}>×</button>
          </div>`,
      )}
    </div>`;
}
