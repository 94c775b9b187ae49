// One notification as the shopper reads it: its kind, title and text, the voucher code shown once
// (copied in one tap), its validity and link. The card over the launcher and the updates tab show it.
import { Linked } from "./text.js";
import { html, useRef, useState } from "./ui.js";

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

export function Notice({ chat, n, t, f }) {
  const until = n.voucher?.expires_at || n.expires_at;
  return html`
    <span class="kind">${t(`kind_${n.kind}`)}${n.voucher ? ` · ${t("off", { n: voucherValue(n.voucher, f) })}` : ""}</span>
    <strong>${n.title}</strong>
    <${Body} chat=${chat} n=${n} t=${t} f=${f} />
    ${until && html`<span class="meta">${t("until", { date: f.date(until) })}</span>`}
    ${n.url && /^https?:\/\//i.test(n.url) && html`<a class="meta" href=${n.url} target="_blank" rel="noopener noreferrer"
      data-testid="rapport-link" onClick=${() => chat.track(n.seq, "clicked")}>${t("openLink")}</a>`}`;
}
