// The orders tab: a logged-in customer's recent orders, each with its latest status, from the shop's order updates.
import { html, useEffect } from "./ui.js";

export function OrdersView({ chat, t, f }) {
  useEffect(() => chat.loadOrders(), []);
  const orders = chat.orders || [];
  return html`
    <div class="view">
      <div class="scroll" data-testid="rapport-orders">
        ${orders.length === 0 && html`<p class="note">${t("noOrders")}</p>`}
        ${orders.map((o) => html`
          <article class="item" key=${o.order_id} data-testid="rapport-order" data-order=${o.order_id}>
            <span class="kind">${t("order", { id: o.order_id })} · ${f.date(o.at)}</span>
            <strong data-testid="rapport-order-status">${o.status}</strong>
            <span>${o.text}</span>
            ${o.url && /^https?:\/\//i.test(o.url) && html`<a class="meta" href=${o.url} target="_blank"
              rel="noopener noreferrer">${t("details")}</a>`}
          </article>`)}
      </div>
    </div>`;
}
