// The updates tab, fetched when first shown: every push the shop sent, newest first, each counted as
// opened once on screen; surveys answered in place; the "no offers, thanks" switch.
import { Notice } from "./notice.js";
import { html, useEffect, useRef, useState } from "./ui.js";

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
    id=${`rapport-n-${n.seq}`}><${Notice} chat=${chat} n=${n} t=${t} f=${f} />
    ${n.kind === "survey" && html`<${SurveyPush} chat=${chat} n=${n} t=${t} />`}</article>`;
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
