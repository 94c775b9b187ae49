// The studio's campaigns tab (issue 11): the list (#/studio/campaigns), a new draft
// (#/studio/campaigns/new), and one campaign (#/studio/campaigns/<id>): its composer while it is a
// draft or scheduled, its live results once it went out. Everything through the REST API.
import { api } from "../../../lib/api.js";
import { html, useEffect, useState } from "../../../lib/html.js";
import { CampaignList } from "./campaign-list.js";
import { Composer } from "./composer.js";
import { Results } from "./results.js";

export function CampaignsTab({ id, params }) {
  if (!id) return html`<${CampaignList} />`;
  if (id === "new") return html`<${Composer} key="new" campaign=${null} />`;
  return html`<${CampaignPage} key=${id} id=${id} view=${params && params.get("view")} />`;
}

function CampaignPage({ id, view }) {
  const [campaign, setCampaign] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", `/api/v1/campaigns/${encodeURIComponent(id)}`).then(setCampaign, (e) => setError(e.message));
  }, [id]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!campaign) return html`<p class="muted">Loading…</p>`;
  const editable = campaign.status === "draft" || campaign.status === "scheduled";
  if (editable && view !== "results") return html`<${Composer} key=${campaign.id} campaign=${campaign} onChange=${setCampaign} />`;
  return html`<${Results} campaign=${campaign} onChange=${setCampaign} />`;
}
