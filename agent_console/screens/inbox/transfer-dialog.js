// Handing a conversation over: to an online colleague (away and offline ones are listed, not
// offered), with a handover note only agents see.
import { html, useEffect, useRef, useState } from "../../lib/html.js";
import { useTopics } from "../../state/topics.js";

const ORDER = { online: 0, away: 1, offline: 2 };

export function TransferDialog({ inbox, topics, id, onClose }) {
  useTopics(topics, "agents");
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const first = useRef(null);
  useEffect(() => first.current?.focus(), []);
  const colleagues = [...inbox.agents.values()]
    .filter((a) => a.id !== inbox.me.id)
    .sort((a, b) => ORDER[a.status] - ORDER[b.status] || a.name.localeCompare(b.name));
  const submit = (e) => {
    e.preventDefault();
    if (!to) return;
    inbox.transfer(id, to, note);
    onClose();
  };
  return html`
    <div class="dialog-backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="transfer-title" data-testid="transfer-dialog"
        onSubmit=${submit} onKeyDown=${(e) => e.key === "Escape" && onClose()}>
        <h2 id="transfer-title">Transfer to a colleague</h2>
        <fieldset class="agents">
          <legend>Online colleagues</legend>
          ${colleagues.length === 0 && html`<p class="muted">No colleague has an account yet.</p>`}
          ${colleagues.map(
            (a, i) => html`
              <label key=${a.id} class=${`agent ${a.status}`} data-testid="transfer-agent" data-agent-id=${a.id}>
                <input type="radio" name="to" value=${a.id} ref=${i === 0 ? first : null} disabled=${a.status !== "online"}
                  checked=${to === a.id} onChange=${() => setTo(a.id)} />
                <span class=${`dot ${a.status}`} aria-hidden="true"></span>
                <span class="name">${a.name}</span>
                <span class="status">${a.status}</span>
              </label>`,
          )}
        </fieldset>
        <label class="note-field">Handover note <small>(agents only: the customer never sees it)</small>
          <textarea data-testid="transfer-note" rows="3" maxlength="4000" value=${note} onInput=${(e) => setNote(e.target.value)}
            placeholder="What they asked, what you tried, what is left"></textarea>
        </label>
        <div class="actions">
          <button type="button" class="ghost" onClick=${onClose}>Cancel</button>
          <button type="submit" data-testid="transfer-submit" disabled=${!to}>Transfer</button>
        </div>
      </form>
    </div>`;
}
