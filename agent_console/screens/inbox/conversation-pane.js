// One conversation: who and where it stands, the transcript, the customer typing, and what the
// agent may do here (reply, take it, transfer, close, reopen; read-only when it is not theirs).
import { html, useCallback, useRef, useState } from "../../lib/html.js";
import { customerLabel } from "../../state/inbox.js";
import { go, inboxPath } from "../../state/router.js";
import { useTopics } from "../../state/topics.js";
import { Composer } from "./composer.js";
import { Transcript } from "./transcript.js";
import { TransferDialog } from "./transfer-dialog.js";

function Typing({ inbox, topics, id }) {
  useTopics(topics, `typing:${id}`);
  return html`<div class="typing" data-testid="typing-indicator">${inbox.typing.has(id) ? "The customer is typing…" : ""}</div>`;
}

export function ConversationPane({ inbox, topics, id, view, focusSeq, onTogglePanel }) {
  useTopics(topics, `row:${id}`, "selected", "agents");
  const [transferring, setTransferring] = useState(false);
  const [editing, setEditing] = useState(null);
  const editRef = useRef(null);
  editRef.current = (event, text) => setEditing({ seq: event.seq, text });
  // Stable for the transcript's pure messages: they must not render again for a new function.
  const onEdit = useCallback((event, text) => editRef.current(event, text), []);
  const summary = inbox.summary(id);
  const transcript = inbox.transcript(id);
  if (!summary) {
    return html`<section class="conversation empty-pane">${transcript.missing ? "This conversation is not yours to read." : "Loading…"}</section>`;
  }
  const writable = inbox.canWrite(id);
  const waiting = summary.status === "waiting";
  const closed = summary.status === "closed";
  const mine = inbox.isMine(summary);
  const who = summary.agent_id ? inbox.agentName(summary.agent_id) : null;
  const editLast = () => {
    const last = transcript.lastOwn(inbox.me.id);
    if (!last) return false;
    const edit = transcript.edits.get(last.seq);
    setEditing({ seq: last.seq, text: edit ? edit.text : last.text });
    return true;
  };

  let footer;
  if (writable) {
    footer = html`<${Composer} key=${id} inbox=${inbox} id=${id} editing=${editing} maxChars=${inbox.maxChars || 4000}
      onEditLast=${editLast} onEditDone=${() => setEditing(null)} />`;
  } else if (waiting) {
    footer = html`<div class="bar-note">Waiting for an agent.
      <button data-testid="take-open" onClick=${() => { inbox.take(id); go(inboxPath("mine", id)); }}>Take this chat</button></div>`;
  } else if (closed) {
    footer = html`<div class="bar-note" data-testid="read-only">Closed${who ? ` · answered by ${who}` : ""}.
      ${inbox.canReopen(id) && html`<button data-testid="reopen" onClick=${() => { inbox.reopen(id); go(inboxPath("mine", id)); }}>Reopen</button>`}</div>`;
  } else {
    footer = html`<div class="bar-note" data-testid="read-only">${who ? `${who[0].toUpperCase()}${who.slice(1)} has this chat` : "Assigned"}: read only.</div>`;
  }

  return html`
    <section class="conversation" aria-label=${`Conversation with ${customerLabel(summary)}`} data-testid="conversation"
      data-conversation-id=${id} data-status=${summary.status}>
      <header class="conversation-head">
        <div class="title">
          <h2 data-testid="conversation-title">${customerLabel(summary)}</h2>
          <span class=${`status ${summary.status}`} data-testid="conversation-status">
            ${waiting ? "Waiting" : closed ? "Closed" : mine ? "Yours" : `With ${who || "an agent"}`}</span>
        </div>
        <span class="spacer"></span>
        ${waiting && html`<button data-testid="take-head" onClick=${() => { inbox.take(id); go(inboxPath("mine", id)); }}>Take</button>`}
        ${writable && html`<button class="ghost" data-testid="transfer-button" onClick=${() => setTransferring(true)}>Transfer</button>`}
        ${writable && html`<button class="ghost" data-testid="close-button" onClick=${() => inbox.close(id)}>Close</button>`}
        <button class="ghost panel-toggle" data-testid="panel-toggle" onClick=${onTogglePanel}>Customer</button>
      </header>
      <${Transcript} inbox=${inbox} topics=${topics} id=${id} focusSeq=${focusSeq} onEdit=${onEdit} writable=${writable} />
      <${Typing} inbox=${inbox} topics=${topics} id=${id} />
      ${footer}
      ${transferring && html`<${TransferDialog} inbox=${inbox} topics=${topics} id=${id} onClose=${() => setTransferring(false)} />`}
    </section>`;
}
