// The chat tab: a conversation's messages by day, the composer with its offline and pre-chat fields,
// and the satisfaction survey (rating.js) once the conversation is closed.
import { Linked } from "./text.js";
import { html, Later, useLayoutEffect, useRef, useState } from "./ui.js";

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const SURVEY = () => import("./rating.js").then((m) => m.Survey);

function dayOf(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(ms, t, f) {
  const today = dayOf(Date.now());
  if (dayOf(ms) === today) return t("today");
  if (dayOf(ms + 86_400_000) === today) return t("yesterday");
  return f.date(ms);
}

export function initial(name) {
  return (name || "?").trim().charAt(0).toUpperCase() || "?";
}

function Lines({ chat, t, f }) {
  const id = chat.current;
  const items = chat.messagesOf(id);
  const edits = new Map(items.filter((e) => e.kind === "edit").map((e) => [e.target_seq, e.text]));
  const marker = chat.markerFrom && chat.markerFrom.id === id ? chat.markerFrom.seq : null;
  const lastMine = Math.max(0, ...items.filter((e) => e.author_type === "customer" && e.seq).map((e) => e.seq));
  const seenUpTo = Math.max(0, ...items.filter((e) => e.kind === "read" && e.author_type === "agent").map((e) => e.target_seq));
  const out = [];
  let day = null;
  let previous = null;
  let markerShown = false;
  for (const e of items) {
    if (!["message", "assigned", "status", "rating"].includes(e.kind)) continue;
    if (dayOf(e.at) !== day) {
      day = dayOf(e.at);
      out.push(html`<div class="day" role="separator">${dayLabel(e.at, t, f)}</div>`);
      previous = null;
    }
    if (e.kind === "assigned") {
      const name = e.agent_name || chat.agentNames.get(e.agent_id);
      out.push(html`<div class="system">${t("joined", { name: name || t("anAgent") })}</div>`);
    } else if (e.kind === "status" && e.status === "closed") {
      out.push(html`<div class="system">${t("closed")}</div>`);
    } else if (e.kind === "rating") {
      out.push(html`<div class="system">${"★".repeat(e.score)} ${t("thanks")}</div>`);
    } else if (e.kind === "message") {
      const mine = e.author_type === "customer";
      if (!mine && marker !== null && !markerShown && e.seq > marker) {
        markerShown = true;
        out.push(html`<div class="marker" data-testid="rapport-new-marker"><span>${t("newMessages")}</span></div>`);
      }
      const first = !previous || previous.author_type !== e.author_type || previous.author_id !== e.author_id;
      const text = edits.has(e.seq) ? edits.get(e.seq) : e.text;
      const cls = e.failed ? "msg failed" : e.sending ? "msg pending" : "msg";
      out.push(html`
        <div class=${`row ${mine ? "customer" : "agent"}`}>
          ${!mine && html`<span class="avatar" aria-hidden="true" style=${first ? "" : "visibility:hidden"}>${initial(e.author_name)}</span>`}
          <div class=${cls} data-testid="rapport-message" data-author=${mine ? "customer" : "agent"} data-seq=${e.seq || ""}>
            ${!mine && first && html`<span class="name">${e.author_name || t("anAgent")}</span>`}
            <span class="text"><${Linked} text=${text} /></span>
            ${edits.has(e.seq) && html` <span class="meta">(${t("edited")})</span>`}
            <time datetime=${new Date(e.at).toISOString()}>${e.failed ? `${t("failed")} · ` : ""}${f.time(e.at)}</time>
          </div>
        </div>`);
      previous = e;
    }
  }
  if (lastMine && seenUpTo >= lastMine) out.push(html`<div class="seen">${t("seen")}</div>`);
  return out;
}

function Composer({ chat, t, config }) {
  const [text, setText] = useState("");
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [transcript, setTranscript] = useState(false);
  const [problem, setProblem] = useState(null);
  const summary = chat.conversations.get(chat.current);
  // Nobody online: the reply goes by e-mail, so the address comes with the message.
  const askEmail = !chat.agentsOnline && !summary?.contact_email && !chat.contactGiven;
  const fresh = chat.current === null && !chat.identified && !chat.contactGiven;
  const prechat = fresh && chat.agentsOnline ? config.prechat || [] : [];
  const wantEmail = askEmail || prechat.includes("email");
  const wantName = prechat.includes("name");

  function submit(e) {
    e.preventDefault();
    const message = text.trim();
    if (!message) return;
    if (wantName && !name.trim()) return setProblem(t("badName"));
    if (wantEmail && !EMAIL.test(email.trim())) return setProblem(t("badEmail"));
    const contact = {};
    if (wantEmail) contact.email = email.trim();
    if (wantName) contact.name = name.trim();
    if (wantEmail && transcript) contact.transcript = true;
    if (wantEmail || wantName) chat.contactGiven = true;
    setProblem(null);
    chat.send(message, Object.keys(contact).length ? contact : null);
    setText("");
  }

  return html`
    <form class="composer" onSubmit=${submit} novalidate>
      ${askEmail && html`<p class="note" data-testid="rapport-away">${t("away")}</p>`}
      ${!askEmail && prechat.length > 0 && html`<p class="note">${t("prechat")}</p>`}
      ${wantName && html`<input type="text" data-testid="rapport-name" aria-label=${t("name")} placeholder=${t("name")}
        autocomplete="name" maxlength="200" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />`}
      ${wantEmail && html`<input type="email" data-testid="rapport-email" aria-label=${t("email")} placeholder=${t("email")}
        autocomplete="email" maxlength="254" required value=${email} aria-invalid=${problem === t("badEmail")}
        onInput=${(e) => setEmail(e.currentTarget.value)} />`}
      ${askEmail && html`<label class="check"><input type="checkbox" data-testid="rapport-transcript" checked=${transcript}
        onChange=${(e) => setTranscript(e.currentTarget.checked)} /> ${t("transcript")}</label>`}
      ${problem && html`<p class="error" role="alert" data-testid="rapport-problem">${problem}</p>`}
      <div class="line">
        <textarea data-testid="rapport-input" aria-label=${t("input")} placeholder=${t("input")} rows="1"
          maxlength=${chat.maxChars} value=${text}
          onInput=${(e) => {
            const box = e.currentTarget;
            setText(box.value);
            box.style.height = "auto";
            box.style.height = `${Math.min(box.scrollHeight + 2, 120)}px`;
            chat.typingNow();
          }}
          onKeyDown=${(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
          }}></textarea>
        <button class="primary" type="submit" data-testid="rapport-send">${t("send")}</button>
      </div>
    </form>`;
}

export function ChatView({ chat, t, f, config }) {
  const scroller = useRef(null);
  const summary = chat.conversations.get(chat.current);
  const items = chat.messagesOf(chat.current);
  const closed = summary?.status === "closed";
  useLayoutEffect(() => {
    const box = scroller.current;
    // Open at the newest message; stay there as messages arrive unless the shopper scrolled up.
    if (box && (box.dataset.pinned !== "no")) box.scrollTop = box.scrollHeight;
  }, [items.length, chat.current, chat.open]);
  const greeting = config.greeting || t("greeting");
  const typing = chat.typing && chat.typing.conversation_id === chat.current ? chat.typing.name || t("anAgent") : null;
  return html`
    <div class="view">
      <div class="scroll" ref=${scroller} data-testid="rapport-messages" aria-label=${t("chatLabel")} tabindex="0"
        onScroll=${(e) => {
          const box = e.currentTarget;
          box.dataset.pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 40 ? "yes" : "no";
        }}>
        <div class="intro" data-testid="rapport-greeting">
          <strong>${chat.profile?.name ? `${greeting.replace(/[!.]?$/, "")}, ${chat.profile.name.split(" ")[0]}!` : greeting}</strong>
          ${config.reply_minutes && html`<span class="note">${t("reply", { n: config.reply_minutes })}</span>`}
        </div>
        <${Lines} chat=${chat} t=${t} f=${f} />
      </div>
      <div class="typing" aria-hidden="true">${typing ? t("typing", { name: typing }) : ""}</div>
      ${closed
        ? html`<div class="closedbar">
            ${!chat.rated(chat.current) && html`<${Later} load=${SURVEY} chat=${chat} t=${t} key=${chat.current} />`}
            <button class="ghost" type="button" data-testid="rapport-new" onClick=${() => chat.show(null)}>${t("newConv")}</button>
          </div>`
        : html`<${Composer} chat=${chat} t=${t} config=${config} key=${chat.current || "new"} />`}
    </div>`;
}
