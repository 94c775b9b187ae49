// The marketer's studio (segments, campaigns, vouchers, reports) is its own piece of work: until
// it is built on this layout, the screen says so, so a marketer who logs in knows where they are.
import { html } from "../../lib/html.js";

export function StudioScreen({ me }) {
  return html`
    <section class="studio" data-testid="studio-screen" aria-labelledby="studio-title">
      <div class="placeholder">
        <h1 id="studio-title">Studio</h1>
        <p>Welcome, ${me.name}. The marketer's studio is coming here: segments, campaigns, e-vouchers and
          their results.</p>
        <p class="muted">Until then, campaigns, segments and vouchers are run through the REST API
          (<a href="/openapi.json">the API's description</a>).</p>
      </div>
    </section>`;
}
