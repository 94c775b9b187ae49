// A campaign's results, live: audience, eligible, held back and why, waiting for the next visit,
// sent, delivered, opened, clicked, dismissed, redeemed; a funnel and a time chart (uPlot, through
// lib/chart.js) fed by the stats endpoint, polled every few seconds while the screen is open.
// Pause, resume, stop, duplicate and the CSV export sit at the top.
import uPlot from "/static/vendor/uplot.js";
import { api } from "../../../lib/api.js";
import { Chart } from "../../../lib/chart.js";
import { html, useEffect, useMemo, useState } from "../../../lib/html.js";
import { go } from "../../../state/router.js";
import { studioPath } from "../studio-screen.js";
import { KIND_LABELS, StatusPill, audienceText, dateTime } from "./labels.js";

const POLL_MS = 1500;
const FUNNEL = [
  ["audience", "Audience"], ["eligible", "Eligible"], ["recipients", "Sent"], ["delivered", "Delivered"],
  ["opened", "Opened"], ["clicked", "Clicked"], ["redeemed", "Redeemed"],
];
const LINES = [
  ["delivered", "Delivered", "#4f46e5"], ["opened", "Opened", "#0891b2"],
  ["clicked", "Clicked", "#d97706"], ["redeemed", "Redeemed", "#16a34a"],
];

function useStats(id) {
  const [stats, setStats] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    let timer = null;
    const poll = async () => {
      try {
        const next = await api("GET", `/api/v1/campaigns/${encodeURIComponent(id)}/stats`);
        if (live) { setStats(next); setError(""); }
      } catch (err) {
        if (live) setError(err.message);
      }
      // The next poll after this one answered (a slow answer never stacks requests), only while shown.
      if (live) timer = setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
    };
    poll();
    return () => { live = false; clearTimeout(timer); };
  }, [id]);
  return [stats, error];
}

function Stat({ name, label, value, note }) {
  return html`<div class=${`stat stat-${name}`} data-testid=${`stat-${name}`}>
    <span class="label">${label}</span><strong class="value" data-testid=${`stat-${name}-value`}>${value}</strong>
    ${note && html`<span class="note muted">${note}</span>`}</div>`;
}

function summaryOf(campaign, segments) {
  return [
    KIND_LABELS[campaign.kind] || campaign.kind,
    audienceText(campaign.audience, segments),
    campaign.consent === "marketing" ? "marketing (consent needed)" : "transactional",
    campaign.frequency_cap && `at most ${campaign.frequency_cap.max} per ${campaign.frequency_cap.days} days`,
    campaign.recurring && `every year on each customer's ${campaign.recurring.date_field} at ${campaign.recurring.local_time}`,
    campaign.started_at && `started ${dateTime(campaign.started_at)}`,
    campaign.expires_at && `until ${dateTime(campaign.expires_at)}`,
  ].filter(Boolean).join(" · ");
}

export function Results({ campaign, onChange }) {
  const [stats, error] = useStats(campaign.id);
  const [segments, setSegments] = useState([]);
  const [actionError, setActionError] = useState("");
  useEffect(() => {
    if (campaign.audience.type === "segment") api("GET", "/api/v1/segments").then((r) => setSegments(r.segments || []), () => {});
  }, [campaign.audience.type]);
  const act = (what) => async () => {
    setActionError("");
    try {
      const changed = await api("POST", `/api/v1/campaigns/${encodeURIComponent(campaign.id)}/${what}`);
      if (what === "duplicate") go(studioPath("campaigns", changed.id));
      else onChange(changed);
    } catch (err) {
      setActionError(err.message);
    }
  };
  const s = stats || {};
  const held = (s.no_consent || 0) + (s.frequency_cap || 0) + (s.expired || 0);
  const funnelOptions = useMemo(() => ({
    legend: { show: false },
    scales: { x: { time: false, range: [-0.5, FUNNEL.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [
      { values: (u, ticks) => ticks.map((t) => (FUNNEL[t] ? FUNNEL[t][1] : "")), splits: () => FUNNEL.map((_, i) => i), gap: 4 },
      { size: 40 },
    ],
    series: [{}, { label: "Customers", fill: "rgba(79,70,229,.75)", stroke: "#4f46e5", paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
  }), []);
  const funnelData = useMemo(() => [FUNNEL.map((_, i) => i), FUNNEL.map(([key]) => s[key] || 0)], [stats]);
  const timeOptions = useMemo(() => ({
    legend: { show: true },
    padding: [10, 14, 0, 24], // room for the first time label's date under the axis
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{}, { size: 40 }],
    series: [{}, ...LINES.map(([, label, colour]) => ({ label, stroke: colour, width: 2, points: { show: true, size: 4 } }))],
  }), []);
  const timeData = useMemo(() => {
    const points = (s.timeline || []).slice();
    const now = Date.now();
    // The line goes on to now: totals hold between events.
    if (points.length) points.push({ ...points[points.length - 1], at: Math.max(now, points[points.length - 1].at + 1) });
    return [points.map((p) => p.at / 1000), ...LINES.map(([key]) => points.map((p) => p[key]))];
  }, [stats]);
  const status = campaign.status;
  return html`
    <section class="campaigns results-screen" data-testid="campaign-results">
      <div class="campaigns-head">
        <a class="back" href=${studioPath("campaigns")}>← Campaigns</a>
        <h1>${campaign.name}</h1>
        <${StatusPill} status=${status} />
        <span class="spacer"></span>
        <div class="actions">
          ${status === "active" && html`<button class="ghost" data-testid="campaign-pause" onClick=${act("pause")}>Pause</button>`}
          ${status === "paused" && html`<button data-testid="campaign-resume" onClick=${act("resume")}>Resume</button>`}
          ${["scheduled", "active", "paused"].includes(status) && html`<button class="ghost danger" data-testid="campaign-stop"
            onClick=${act("stop")}>Stop</button>`}
          <button class="ghost" data-testid="campaign-duplicate" onClick=${act("duplicate")}>Duplicate</button>
          <a class="button ghost" data-testid="campaign-export" href=${`/api/v1/campaigns/${encodeURIComponent(campaign.id)}/results.csv`}
            download>Export CSV</a>
        </div>
      </div>
      <p class="summary muted">${summaryOf(campaign, segments)}</p>
      ${status === "paused" && html`<p class="paused-note" role="status">Paused: nobody gets it until you resume it.</p>`}
      ${(error || actionError) && html`<p class="error" role="alert">${actionError || error}</p>`}
      ${!stats ? html`<p class="muted">Loading results…</p>` : html`
        <div class="stats" data-testid="campaign-stats" aria-live="polite">
          <${Stat} name="audience" label="Audience" value=${s.audience} />
          <${Stat} name="eligible" label="Eligible" value=${s.eligible} />
          <${Stat} name="held" label="Held back" value=${held}
            note=${html`<span data-testid="held-reasons">no consent <b data-testid="held-no_consent">${s.no_consent}</b> ·
              frequency cap <b data-testid="held-frequency_cap">${s.frequency_cap}</b> ·
              expired <b data-testid="held-expired">${s.expired}</b></span>`} />
          ${campaign.recurring
            ? html`<${Stat} name="waiting" label="Waiting for their day" value=${s.waiting} note="greeted on their date, once a year" />`
            : html`<${Stat} name="waiting" label="Waiting for next visit" value=${s.waiting} note="offline now: they get it when they come back" />`}
          <${Stat} name="recipients" label="Sent" value=${s.recipients} />
          <${Stat} name="delivered" label="Delivered" value=${s.delivered} />
          <${Stat} name="opened" label="Opened" value=${s.opened} />
          <${Stat} name="clicked" label="Clicked" value=${s.clicked} />
          <${Stat} name="dismissed" label="Dismissed" value=${s.dismissed} />
          <${Stat} name="redeemed" label="Redeemed" value=${s.redeemed} />
        </div>
        <div class="charts">
          <section class="chart-box"><h2>Funnel</h2>
            <${Chart} options=${funnelOptions} data=${funnelData} height=${220} label="Funnel: audience to redeemed" testid="funnel-chart" /></section>
          <section class="chart-box"><h2>Over time</h2>
            ${timeData[0].length
              ? html`<${Chart} options=${timeOptions} data=${timeData} height=${220} label="Delivered, opened, clicked and redeemed over time" testid="time-chart" />`
              : html`<p class="muted">Nothing delivered yet.</p>`}</section>
        </div>`}
    </section>`;
}
