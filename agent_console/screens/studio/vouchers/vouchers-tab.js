// The studio's vouchers tab (issue 11): being built on the studio's layout; until then it says so.
import { html } from "../../../lib/html.js";

export function VouchersTab() {
  return html`<div class="placeholder" data-testid="studio-vouchers"><h1>Vouchers</h1><p class="muted">Not built yet.</p></div>`;
}
