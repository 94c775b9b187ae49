// The marketer's studio: segments, campaigns, voucher pools and reports, one tab each, named in
// the address (#/studio/<tab>[/<id>]) so the back button and a shared link land on the same place.
import { html } from "../../lib/html.js";
import { go } from "../../state/router.js";
import { CampaignsTab } from "./campaigns/campaigns-tab.js";
import { ReportsTab } from "./reports/reports-tab.js";
import { SegmentsTab } from "./segments/segments-tab.js";
import { VouchersTab } from "./vouchers/vouchers-tab.js";

export const STUDIO_TABS = [
  { id: "campaigns", label: "Campaigns", Tab: CampaignsTab },
  { id: "segments", label: "Segments", Tab: SegmentsTab },
  { id: "vouchers", label: "Vouchers", Tab: VouchersTab },
  { id: "reports", label: "Reports", Tab: ReportsTab },
];

export function studioPath(tab, id = null) {
  return id ? `#/studio/${tab}/${encodeURIComponent(id)}` : `#/studio/${tab}`;
}

export function StudioScreen({ me, route }) {
  const current = STUDIO_TABS.find((t) => t.id === route.view) || STUDIO_TABS[0];
  const Tab = current.Tab;
  return html`
    <section class="studio" data-testid="studio-screen" aria-label="Studio">
      <nav class="studio-tabs" role="tablist" aria-label="Studio">
        ${STUDIO_TABS.map((t) => html`
          <a role="tab" href=${studioPath(t.id)} aria-selected=${t.id === current.id ? "true" : "false"}
             class=${t.id === current.id ? "active" : ""} data-testid=${`studio-tab-${t.id}`}
             onClick=${(e) => { e.preventDefault(); go(studioPath(t.id)); }}>${t.label}</a>`)}
      </nav>
      <div class="studio-body" role="tabpanel">
        <${Tab} me=${me} id=${route.conversation} params=${route.params} />
      </div>
    </section>`;
}
