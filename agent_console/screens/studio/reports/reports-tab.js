// The studio's reports tab (issue 11): being built on the studio's layout; until then it says so.
import { html } from "../../../lib/html.js";

export function ReportsTab() {
  return html`<div class="placeholder" data-testid="studio-reports"><h1>Reports</h1><p class="muted">Not built yet.</p></div>`;
}
