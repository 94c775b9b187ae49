// The satisfaction survey once a conversation is closed (1 to 5 and a comment), fetched when first shown.
import { html, useState } from "./ui.js";

export function Survey({ chat, t }) {
  const [score, setScore] = useState(0);
  const [comment, setComment] = useState("");
  const [sent, setSent] = useState(false);
  if (sent) return html`<p class="note" role="status">${t("thanks")}</p>`;
  return html`
    <form class="survey" data-testid="rapport-survey" onSubmit=${(e) => {
      e.preventDefault();
      if (!score) return;
      chat.rate(score, comment.trim());
      setSent(true);
    }}>
      <strong id="rapport-rate">${t("rate")}</strong>
      <div class="scale" role="group" aria-labelledby="rapport-rate">
        ${[1, 2, 3, 4, 5].map((n) => html`
          <button type="button" aria-pressed=${score === n} aria-label=${t("star", { n })} data-testid=${`rapport-score-${n}`}
            onClick=${() => setScore(n)}>${n}</button>`)}
      </div>
      <label class="note" for="rapport-comment">${t("comment")}</label>
      <textarea id="rapport-comment" data-testid="rapport-comment" maxlength="2000" value=${comment}
        onInput=${(e) => setComment(e.currentTarget.value)}></textarea>
      <button class="primary" type="submit" disabled=${!score} data-testid="rapport-rate-send">${t("send")}</button>
    </form>`;
}
