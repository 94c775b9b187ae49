// The studio's campaigns tab (issue 11): being built on the studio's layout; until then it says so.
import { html } from "../../../lib/html.js";

export function CampaignsTab() {
  return html`<div class="placeholder" data-testid="studio-campaigns"><h1>Campaigns</h1><p class="muted">Not built yet.</p></div>`;
}
