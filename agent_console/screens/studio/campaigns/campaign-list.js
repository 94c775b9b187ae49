// Campaigns, newest first: name, kind, status and the counts that matter (sent, opened, redeemed).
import { api } from "../../../lib/api.js";
import { html, useEffect, useState } from "../../../lib/html.js";
import { go } from "../../../state/router.js";
import { studioPath } from "../studio-screen.js";
import { KIND_LABELS, StatusPill, shortDate } from "./labels.js";

export function CampaignList() {
  const [list, setList] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", "/api/v1/campaigns?limit=100").then(setList, (e) => setError(e.message));
  }, []);
  const open = (c) => (e) => { e.preventDefault(); go(studioPath("campaigns", c.id)); };
  return html`
    <section class="campaigns" data-testid="campaign-list">
      <div class="campaigns-head">
        <h1>Campaigns</h1>
        <span class="spacer"></span>
        <button data-testid="campaign-new" onClick=${() => go(studioPath("campaigns", "new"))}>New campaign</button>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${list === null
        ? html`<p class="muted">Loading…</p>`
        : list.campaigns.length === 0
          ? html`<p class="muted empty">No campaigns yet: write an offer, a piece of news or a birthday greeting.</p>`
          : html`
            <table class="accounts campaigns-table">
              <thead><tr><th>Name</th><th>Kind</th><th>Status</th><th class="num">Sent</th><th class="num">Opened</th>
                <th class="num">Redeemed</th><th class="when">Created</th></tr></thead>
              <tbody>${list.campaigns.map((c, i) => {
                const n = list.counts[i] || {};
                return html`
                  <tr key=${c.id} data-testid="campaign-row" data-id=${c.id}>
                    <td><a href=${studioPath("campaigns", c.id)} onClick=${open(c)}>${c.name}</a></td>
                    <td>${KIND_LABELS[c.kind] || c.kind}</td>
                    <td><${StatusPill} status=${c.status} /></td>
                    <td class="num" data-testid="row-sent">${n.recipients ?? 0}</td>
                    <td class="num">${n.opened ?? 0}</td>
                    <td class="num">${n.redeemed ?? 0}</td>
                    <td class="when muted">${shortDate(c.created_at)}</td>
                  </tr>`;
              })}</tbody>
            </table>`}
    </section>`;
}
