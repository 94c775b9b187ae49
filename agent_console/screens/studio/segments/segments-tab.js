// The studio's segments tab (issue 11): being built on the studio's layout; until then it says so.
import { html } from "../../../lib/html.js";

export function SegmentsTab() {
  return html`<div class="placeholder" data-testid="studio-segments"><h1>Segments</h1><p class="muted">Not built yet.</p></div>`;
}
