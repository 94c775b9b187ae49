// Beside the chat: who the customer is and what the shop knows of them (points, tier, tags,
// spending, orders with their latest status, vouchers, the page they are on and the pages they
// came through, previous conversations to open read-only, the satisfaction they gave).
import { html } from "../../lib/html.js";
import { ago, date, shortWhen } from "../../lib/time.js";
import { customerLabel } from "../../state/inbox.js";
import { inboxPath } from "../../state/router.js";
import { useTopics } from "../../state/topics.js";

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency || ""}`.trim();
  }
}

function voucherValue(v) {
  return v.kind === "percent" ? `${v.amount}% off` : `${money(v.amount, v.currency)} off`;
}

function voucherState(v) {
  if (v.redeemed_at) return { label: `redeemed ${shortWhen(v.redeemed_at)}${v.redeemed_order ? ` (order ${v.redeemed_order})` : ""}`, kind: "redeemed" };
  if (v.expires_at && v.expires_at < Date.now()) return { label: "expired", kind: "expired" };
  return { label: v.expires_at ? `until ${shortWhen(v.expires_at)}` : "open", kind: "open" };
}

function Stars({ score }) {
  return html`<span class="stars" aria-label=${`${score} out of 5`}>${"★".repeat(score)}${"☆".repeat(5 - score)}</span>`;
}

function Section({ title, children, testid }) {
  return html`<section class="panel-section" data-testid=${testid}><h3>${title}</h3>${children}</section>`;
}

export function CustomerPanel({ inbox, topics, id }) {
  useTopics(topics, `panel:${id}`, `row:${id}`);
  const known = inbox.panels.get(id);
  const summary = inbox.summary(id);
  if (!known || (!known.data && known.loading)) return html`<aside class="customer-panel" aria-label="Customer"><p class="muted">Loading…</p></aside>`;
  if (!known.data) return html`<aside class="customer-panel" aria-label="Customer"><p class="muted">${known.error}</p></aside>`;
  const c = known.data;
  const current = c.pages[0];
  const score = c.satisfaction.find((s) => s.conversation_id === id);
  return html`
    <aside class="customer-panel" aria-label="Customer" data-testid="customer-panel">
      <header class="who">
        <span class="avatar big" aria-hidden="true">${(c.name || customerLabel(summary) || "?").slice(0, 1).toUpperCase()}</span>
        <div>
          <h2 data-testid="customer-name">${c.name || customerLabel(summary)}</h2>
          ${c.email && html`<a class="email" href=${`mailto:${c.email}`} data-testid="customer-email">${c.email}</a>`}
          <span class=${`badge ${c.identified ? "identified" : "anonymous"}`} data-testid="customer-identity">
            ${c.identified ? `Customer ${c.external_id}` : "Anonymous visitor"}</span>
        </div>
      </header>
      ${c.identified && html`
        <dl class="facts">
          <div><dt>Loyalty points</dt><dd data-testid="customer-points">${c.loyalty_points.toLocaleString()}</dd></div>
          <div><dt>Tier</dt><dd data-testid="customer-tier">${c.tier || "–"}</dd></div>
          <div><dt>Total spent</dt><dd data-testid="customer-spent">${money(c.total_spent)}</dd></div>
          <div><dt>Customer since</dt><dd>${date(c.created_at)}</dd></div>
        </dl>
        ${c.tags.length > 0 && html`<ul class="tags" data-testid="customer-tags">${c.tags.map((t) => html`<li key=${t}>${t}</li>`)}</ul>`}`}
      ${score && html`<${Section} title="Satisfaction" testid="customer-satisfaction">
        <p><${Stars} score=${score.score} /> ${score.comment && html`<q>${score.comment}</q>`}</p><//>`}
      <${Section} title="Now on" testid="customer-current-page">
        ${current
          ? html`<p class="page"><span class="page-title">${current.title || current.url}</span>
              <span class="url">${current.url}</span><span class="muted"> · ${ago(current.at)}</span></p>`
          : html`<p class="muted">No page seen yet.</p>`}
      <//>
      ${c.pages.length > 1 && html`<${Section} title="Came through" testid="customer-pages">
        <ol class="pages">${c.pages.slice(1).map((p, i) => html`<li key=${i}><span class="page-title">${p.title || p.url}</span>
          <span class="muted"> · ${ago(p.at)}</span></li>`)}</ol><//>`}
      <${Section} title="Orders" testid="customer-orders">
        ${c.orders.length === 0
          ? html`<p class="muted">No order updates.</p>`
          : html`<ul class="orders">${c.orders.map((o) => html`<li key=${o.order_id}>
              <span class="order-id">${o.order_id}</span><span class="order-status" data-testid="order-status">${o.status}</span>
              <span class="muted">${shortWhen(o.at)}</span></li>`)}</ul>`}
      <//>
      <${Section} title="Vouchers" testid="customer-vouchers">
        ${c.vouchers.length === 0
          ? html`<p class="muted">None issued.</p>`
          : html`<ul class="vouchers">${c.vouchers.map((v) => {
              const state = voucherState(v);
              return html`<li key=${v.code} class=${state.kind}><code>${v.code}</code> ${voucherValue(v)} <span class="muted">${state.label}</span></li>`;
            })}</ul>`}
      <//>
      <${Section} title="Previous conversations" testid="customer-conversations">
        ${c.conversations.length === 0
          ? html`<p class="muted">This is their first.</p>`
          : html`<ul class="previous">${c.conversations.map(({ conversation: p, readable }) => {
              const given = c.satisfaction.find((s) => s.conversation_id === p.id);
              const label = html`<span>${shortWhen(p.last_message_at || p.created_at)} · ${p.status}</span>
                ${given && html` <${Stars} score=${given.score} />`}
                ${p.preview && html`<span class="preview">${p.preview}</span>`}`;
              return html`<li key=${p.id}>${readable
                ? html`<a href=${inboxPath(p.status === "closed" ? "closed" : "open", p.id)} data-testid="previous-conversation"
                    onClick=${() => inbox.conversations.has(p.id) || inbox.conversations.set(p.id, p)}>${label}</a>`
                : html`<span class="muted">${label} · with ${inbox.agentName(p.agent_id) || "another agent"}</span>`}</li>`;
            })}</ul>`}
      <//>
    </aside>`;
}
