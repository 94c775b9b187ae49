// A push arriving while the panel is closed: one small card over the launcher, the rest queued.
import { html, useEffect } from "./ui.js";
import { Notice } from "./notice.js";

export function Card({ chat, t, f, side, onOpen }) {
  const seq = chat.cards.find((s) => chat.notifications.has(s));
  const n = seq === undefined ? null : chat.notifications.get(seq);
  useEffect(() => {
    // On screen now: that is what "opened" counts (a hidden tab shows nothing).
    if (n && !document.hidden) chat.track(n.seq, "opened");
  }, [n && n.seq, document.hidden]);
  if (!n) return null;
  return html`
    <aside class=${`card ${side}`} data-testid="rapport-card" data-kind=${n.kind} aria-label=${t("newCard")}>
      <button class="x" type="button" data-testid="rapport-card-dismiss" aria-label=${t("dismiss")}
        onClick=${() => chat.dismiss(n.seq)}>×</button>
      <${Notice} chat=${chat} n=${n} t=${t} f=${f} />
      <div class="actions">
        <button class="ghost" type="button" data-testid="rapport-card-open" onClick=${() => onOpen(n.seq)}>${t("view")}</button>
      </div>
    </aside>`;
}
