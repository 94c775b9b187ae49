// The studio's vouchers tab (issue 11): voucher pools. The list with its create form at
// #/studio/vouchers, one pool's page at #/studio/vouchers/<pool id>.
import { html } from "../../../lib/html.js";
import { PoolList } from "./pool-list.js";
import { PoolPage } from "./pool-page.js";

export function VouchersTab({ id }) {
  return html`<div class="vouchers" data-testid="studio-vouchers">
    ${id ? html`<${PoolPage} key=${id} id=${id} />` : html`<${PoolList} />`}
  </div>`;
}
