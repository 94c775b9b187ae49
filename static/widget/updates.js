// Pushes the shop sent: offers with their voucher (shown once, copied in one tap), order updates,
// news, reminders, surveys answered in place; the "no offers, thanks" switch.
import { Linked } from "./text.js";
import { html, useEffect, useRef, useState } from "./ui.js";

function voucherValue(v, f) {
  return v.kind === "percent" ? f.percent(v.amount) : f.money(v.amount, v.currency);
}

function Voucher({ chat, n, t, f }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(n.voucher.code);
    } catch {
      // Clipboard refused (an insecure page, a policy): select the code for a manual copy.
      const range = document.createRange();
      range.selectNodeContents(code.current);
      const selection = code.current.getRootNode().getSelection?.() || window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    setCopied(true);
    chat.track(n.seq, "clicked");
    setTimeout(() => setCopied(false), 2000);
  }
  const code = useRef(null);
  return html`<span class="voucher" data-testid="rapport-voucher">
    <span ref=${code}>${n.voucher.code}</span>
    <button type="button" onClick=${copy} data-testid="rapport-copy" aria-label=${`${t("copy")} ${n.voucher.code}`}>
      ${copied ? t("copied") : t("copy")}</button>
    <span class="sr" role="status">${copied ? t("copied") : ""}</span>
  </span>`;
}

/** The notification's text with its voucher code shown once: where the text names it, else after it. */
function Body({ chat, n, t, f }) {
  const code = n.voucher?.code;
  const body = n.body || "";
  if (!code) return html`<span><${Linked} text=${body} /></span>`;
  const at = body.indexOf(code);
  if (at < 0) return html`<span><${Linked} text=${body} /> <${Voucher} chat=${chat} n=${n} t=${t} f=${f} /></span>`;
  return html`<span><${Linked} text=${body.slice(0, at)} /><${Voucher} chat=${chat} n=${n} t=${t} f=${f} /><${Linked}
    text=${body.slice(at + code.length)} /></span>`;
}

function SurveyPush({ chat, n, t }) {
  const questions = n.data?.survey?.questions || [];
  const [answers, setAnswers] = useState({});
  if (chat.marks.answered[n.seq]) return html`<p class="note" role="status" data-testid="rapport-survey-done">${t("answered")}</p>`;
  const set = (id, value) => setAnswers({ ...answers, [id]: value });
  const error = chat.surveyErrors.get(n.seq);
  return html`<form class="survey" data-testid="rapport-survey-push" onSubmit=${(e) => {
      e.preventDefault();
      chat.answer(n.seq, answers);
    }}>
    ${questions.map((q) => {
      const id = `rapport-q-${n.seq}-${q.id}`;
      if (q.kind === "text") {
        return html`<label class="note" for=${id}>${q.label}</label>
          <textarea id=${id} maxlength="2000" data-testid=${`rapport-q-${q.id}`} onInput=${(e) => set(q.id, e.currentTarget.value)}></textarea>`;
      }
      // A scale's bounds default to 1 and 5 (left out of the notification when so).
      const [low, high] = [q.min ?? 1, q.max ?? 5];
      const options = q.kind === "scale" ? Array.from({ length: high - low + 1 }, (_, i) => low + i) : q.choices;
      return html`<strong id=${id}>${q.label}</strong>
        <div class="scale" role="group" aria-labelledby=${id} data-testid=${`rapport-q-${q.id}`}>
          ${options.map((o) => html`<button type="button" aria-pressed=${answers[q.id] === o} onClick=${() => set(q.id, o)}>${o}</button>`)}
        </div>`;
    })}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <button class="primary" type="submit" data-testid="rapport-survey-send" disabled=${!Object.keys(answers).length}>${t("answer")}</button>
  </form>`;
}

/** One notification: used in the updates tab and in the card over the launcher. */
export function Notice({ chat, n, t, f, compact = false }) {
  const until = n.voucher?.expires_at || n.expires_at;
  return html`
    <span class="kind">${t(`kind_${n.kind}`)}${n.voucher ? ` · ${t("off", { n: voucherValue(n.voucher, f) })}` : ""}</span>
    <strong>${n.title}</strong>
    <${Body} chat=${chat} n=${n} t=${t} f=${f} />
    ${until && html`<span class="meta">${t("until", { date: f.date(until) })}</span>`}
    ${n.url && /^https?:\/\//i.test(n.url) && html`<a class="meta" href=${n.url} target="_blank" rel="noopener noreferrer"
      data-testid="rapport-link" onClick=${() => chat.track(n.seq, "clicked")}>${t("openLink")}</a>`}
    ${!compact && n.kind === "survey" && html`<${SurveyPush} chat=${chat} n=${n} t=${t} />`}`;
}

function Item({ chat, n, t, f }) {
  const node = useRef(null);
  useEffect(() => {
    // Opened means seen on screen: counted when at least half of it was in view.
    const watcher = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !document.hidden) {
        chat.seen(n.seq);
        watcher.disconnect();
      }
    }, { threshold: 0.5 });
    watcher.observe(node.current);
    return () => watcher.disconnect();
  }, [n.seq]);
  return html`<article class="item" ref=${node} data-testid="rapport-update" data-kind=${n.kind} data-seq=${n.seq}
    id=${`rapport-n-${n.seq}`}><${Notice} chat=${chat} n=${n} t=${t} f=${f} /></article>`;
}

export function UpdatesView({ chat, t, f }) {
  const items = [...chat.notifications.values()].sort((a, b) => b.seq - a.seq);
  useEffect(() => {
    if (chat.focusSeq) chat.root.getElementById(`rapport-n-${chat.focusSeq}`)?.scrollIntoView({ block: "start" });
    chat.focusSeq = null;
  }, [chat.focusSeq]);
  const consent = !!chat.profile?.marketing_consent;
  return html`
    <div class="view">
      <div class="scroll" data-testid="rapport-updates">
        ${items.length === 0 && html`<p class="note">${t("noUpdates")}</p>`}
        ${items.map((n) => html`<${Item} key=${n.seq} chat=${chat} n=${n} t=${t} f=${f} />`)}
      </div>
      ${chat.identified && html`<label class="switch">
        <span>${t("offers")}</span>
        <input type="checkbox" role="switch" data-testid="rapport-consent" checked=${consent}
          onChange=${(e) => chat.setConsent(e.currentTarget.checked)} />
      </label>`}
    </div>`;
}
