// A conversation's transcript: in seq order with times and day separators, the latest messages
// rendered and older ones added as the agent scrolls back (then fetched from history). Each
// message is a pure component: an incoming event renders the new one, not the thousands before.
import { Fragment, html, Pure, useEffect, useLayoutEffect, useRef } from "../../lib/html.js";
import { clock, dayKey, dayLabel } from "../../lib/time.js";
import { useTopics } from "../../state/topics.js";

const WINDOW = 50; // messages rendered at first (more than a screen holds); scrolling back adds as many again
const NEAR_TOP = 120; // px from the top at which older messages are added
const NEAR_BOTTOM = 80; // px from the bottom counted as "at the bottom" (new messages scroll into view)

class Message extends Pure {
  render({ event, edit, seen, canEdit, onEdit, meId, flash }) {
    if (event.kind === "assigned") {
      const to = event.agent_name || "an agent";
      const by = event.author_type === "agent" && event.author_id !== event.agent_id ? ` by ${event.author_name || "an agent"}` : "";
      return html`<div class="system" data-seq=${event.seq}>Assigned to ${to}${by} · ${clock(event.at)}</div>`;
    }
    if (event.kind === "status") {
      const text = { closed: "Conversation closed", waiting: "Back in the queue", assigned: "Reopened" }[event.status] || event.status;
      const who = event.author_type === "system" ? "" : ` by ${event.author_type === "customer" ? "the customer" : event.author_name || "an agent"}`;
      return html`<div class="system" data-seq=${event.seq} data-testid="transcript-status">${text}${who} · ${clock(event.at)}</div>`;
    }
    const note = event.kind === "note";
    const fromCustomer = event.author_type === "customer";
    const side = note ? "note" : fromCustomer ? "customer" : "agent";
    const own = event.author_id === meId && !fromCustomer;
    return html`
      <div class=${`msg ${side} ${flash ? "flash" : ""}`} data-seq=${event.seq}
        data-testid=${note ? "transcript-note" : "transcript-message"} data-author=${fromCustomer ? "customer" : "agent"}>
        <div class="who">
          <span>${note ? html`<strong>Private note</strong>${" · "}` : null}${fromCustomer ? event.author_name || "Customer" : own ? "You" : event.author_name || "Agent"}</span>
          <time>${clock(event.at)}</time>
        </div>
        <div class="text">${edit ? edit.text : event.text}</div>
        ${(edit || seen || canEdit) && html`<div class="after">
          ${edit && html`<span class="edited" title=${`edited at ${clock(edit.at)}`}>edited</span>`}
          ${seen && html`<span class="seen" data-testid="seen">Seen</span>`}
          ${canEdit && html`<button class="link small" data-testid="edit-last" onClick=${() => onEdit(event, edit ? edit.text : event.text)}>Edit</button>`}
        </div>`}
      </div>`;
  }
}

class Pending extends Pure {
  render({ pending }) {
    return html`
      <div class=${`msg ${pending.private ? "note" : "agent"} pending ${pending.failed ? "failed" : ""}`}
        data-testid="transcript-pending" title=${pending.failed || "sending…"}>
        <div class="text">${pending.text}</div>
        <div class="after">${pending.failed ? `Not sent: ${pending.failed}` : "Sending…"}</div>
      </div>`;
  }
}

export function Transcript({ inbox, topics, id, focusSeq, onEdit, writable }) {
  useTopics(topics, `conv:${id}`);
  const transcript = inbox.transcript(id);
  const box = useRef(null);
  const body = useRef(null);
  const state = useRef({
    id: null, count: WINDOW, length: 0, atBottom: true, height: 0, top: 0, prepending: false, focused: null, sending: 0,
  });
  const s = state.current;
  if (s.id !== id) {
    Object.assign(s, { id, count: WINDOW, length: transcript.items.length, atBottom: true, focused: null });
    s.sending = transcript.pending.size;
  }
  const items = transcript.items;
  if (!s.atBottom && items.length > s.length) s.count += items.length - s.length; // keep the reading place
  if (focusSeq && s.focused !== focusSeq) {
    const at = transcript.indexOf(focusSeq);
    if (at < items.length && items[at].seq === focusSeq) s.count = Math.max(s.count, items.length - at + 20);
  }
  s.length = items.length;
  if (transcript.pending.size > s.sending) s.atBottom = true; // one's own message: back to the latest
  s.sending = transcript.pending.size;
  const start = Math.max(0, items.length - s.count);

  const lastOwn = writable ? transcript.lastOwn(inbox.me.id) : null;
  let lastSeen = null;
  if (transcript.customerRead) {
    for (let i = items.length - 1; i >= 0; i -= 1) {
      const item = items[i];
      if (item.kind === "message" && item.author_type === "agent" && item.seq <= transcript.customerRead) {
        lastSeen = item.seq;
        break;
      }
    }
  }

  const rows = [];
  let day = start > 0 ? dayKey(items[start - 1].at) : null;
  for (let i = start; i < items.length; i += 1) {
    const event = items[i];
    const key = dayKey(event.at);
    if (key !== day) {
      rows.push(html`<div key=${`d${key}`} class="day" role="separator"><span>${dayLabel(event.at)}</span></div>`);
      day = key;
    }
    rows.push(html`<${Message} key=${event.seq} event=${event} edit=${transcript.edits.get(event.seq)}
      seen=${event.seq === lastSeen} canEdit=${lastOwn !== null && lastOwn.seq === event.seq} onEdit=${onEdit}
      meId=${inbox.me.id} flash=${event.seq === focusSeq} />`);
  }
  for (const [clientId, pending] of transcript.pending) rows.push(html`<${Pending} key=${clientId} pending=${pending} />`);

  const onScroll = () => {
    const el = box.current;
    if (!el) return; // a scroll event queued before this transcript was taken down
    s.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM;
    if (el.scrollTop < NEAR_TOP && !s.prepending) {
      if (start > 0) {
        s.prepending = true;
        s.height = el.scrollHeight;
        s.top = el.scrollTop;
        s.count += WINDOW;
        topics.emit(`conv:${id}`);
      } else if (!transcript.complete && !transcript.loading) {
        s.prepending = true;
        s.height = el.scrollHeight;
        s.top = el.scrollTop;
        inbox.loadOlder(id).then(() => { s.count += WINDOW; });
      }
    }
  };

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (s.prepending && el.scrollHeight !== s.height) {
      el.scrollTop = s.top + (el.scrollHeight - s.height); // older messages above: the view stays put
      s.prepending = false;
    } else if (focusSeq && s.focused !== focusSeq) {
      const target = el.querySelector(`[data-seq="${focusSeq}"]`);
      if (target) {
        target.scrollIntoView({ block: "center" });
        s.focused = focusSeq;
        s.atBottom = false;
      }
    } else if (s.atBottom) {
      el.scrollTop = el.scrollHeight;
    }
  });
  useEffect(() => {
    if (s.prepending && !transcript.loading) s.prepending = false;
    // A page of history can be mostly read receipts and the like: fetch on until a screenful shows.
    if (start === 0 && items.length < WINDOW && !transcript.complete && !transcript.loading && !transcript.missing
        && transcript.highest > 0) {
      inbox.loadOlder(id);
    }
  });
  // Content that grows after this render (a line wrapping once fonts load, an image of a row)
  // must not leave an agent who was at the bottom looking at the middle.
  useEffect(() => {
    const el = box.current;
    if (!el || !body.current || typeof ResizeObserver === "undefined") return undefined;
    const pin = new ResizeObserver(() => {
      if (s.atBottom && !s.prepending) el.scrollTop = el.scrollHeight;
    });
    pin.observe(body.current);
    pin.observe(el);
    return () => pin.disconnect();
  }, [id]);

  return html`
    <div class="transcript" ref=${box} onScroll=${onScroll} data-testid="transcript" aria-live="polite" tabindex="0"
      aria-label="Conversation">
      <div class="transcript-body" ref=${body}>
      ${transcript.missing && html`<div class="history-edge" data-testid="not-readable">Only the agent who has it (and admins) read this conversation.</div>`}
      ${start === 0 && !transcript.missing && html`<div class="history-edge">${
        transcript.loading ? "Loading…" : transcript.complete ? "Start of the conversation" : html`<button class="link" onClick=${() => inbox.loadOlder(id)}>Load earlier messages</button>`
      }</div>`}
      ${start > 0 && html`<div class="history-edge"><button class="link" onClick=${() => { s.count += WINDOW; topics.emit(`conv:${id}`); }}>Earlier messages</button></div>`}
      <${Fragment}>${rows}<//>
      </div>
    </div>`;
}
