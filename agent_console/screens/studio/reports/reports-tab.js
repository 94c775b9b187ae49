// The studio's reports tab (issue 11): how support is doing over a chosen period, from
// GET /api/v1/reports/support: conversations per day (a uPlot chart), first-response and
// resolution times (median and 90th percentile), satisfaction, per agent and for the team; the
// same report as CSV. Days are the reader's: the browser's time zone offset goes with the call.
import { api, query } from "../../../lib/api.js";
import { Chart } from "../../../lib/chart.js";
import { html, useEffect, useMemo, useState } from "../../../lib/html.js";
import { replace } from "../../../state/router.js";

const PRESETS = [7, 30, 90];
const number = new Intl.NumberFormat();

function isoDay(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

function daysBack(n) {
  const end = new Date();
  const start = new Date();
  start.setDate(start.getDate() - (n - 1));
  return { start: isoDay(start), end: isoDay(end) };
}

// Seconds as people say them: "45 s", "3 min 20 s", "2 h 5 min", "1 d 4 h".
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return "< 1 s";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ""}`;
}

function stars(average) {
  return average === null || average === undefined ? "—" : `${average.toFixed(1)} / 5`;
}

function Card({ label, value, detail, testid }) {
  return html`<div class="card" data-testid=${testid}>
    <div class="label">${label}</div><div class="value">${value}</div>${detail && html`<div class="detail muted">${detail}</div>`}</div>`;
}

function Distribution({ counts }) {
  const most = Math.max(1, ...counts);
  return html`<table class="distribution" data-testid="satisfaction-distribution">
    <caption>Satisfaction ratings</caption>
    <tbody>${[5, 4, 3, 2, 1].map((score) => html`
      <tr key=${score}><th scope="row">${"★".repeat(score)}<span class="sr-only">${score} of 5</span></th>
        <td><span class=${counts[score - 1] ? "bar" : "bar none"} style=${`width: ${(100 * counts[score - 1]) / most}%`}></span></td>
        <td class="n">${number.format(counts[score - 1])}</td></tr>`)}</tbody>
  </table>`;
}

function PerDay({ days }) {
  // uPlot wants columns: x in seconds (the reader's midnights), then the counts.
  const data = useMemo(() => [
    days.map((d) => new Date(`${d.day}T00:00:00`).getTime() / 1000),
    days.map((d) => d.conversations),
  ], [days]);
  const options = useMemo(() => ({
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    axes: [{ stroke: "#6b7280", grid: { show: false } }, { stroke: "#6b7280", grid: { stroke: "#eee" }, size: 40 }],
    series: [{}, { label: "Conversations", stroke: "#4f46e5", width: 2, fill: "rgba(79, 70, 229, .12)", points: { size: 5 } }],
  }), []);
  const total = days.reduce((n, d) => n + d.conversations, 0);
  return html`<${Chart} options=${options} data=${data} height=${220} testid="report-chart"
    label=${`Conversations per day: ${number.format(total)} over ${days.length} days`} />`;
}

function ResponseTrend({ days }) {
  const data = useMemo(() => [
    days.map((d) => new Date(`${d.day}T00:00:00`).getTime() / 1000),
    days.map((d) => d.first_response_median),
    days.map((d) => d.first_response_p90),
  ], [days]);
  const options = useMemo(() => ({
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(60, (max || 0) * 1.15)] } },
    axes: [
      { stroke: "#6b7280", grid: { show: false } },
      { stroke: "#6b7280", grid: { stroke: "#eee" }, size: 64, values: (_u, ticks) => ticks.map((v) => (v === 0 ? "0" : duration(v))) },
    ],
    series: [
      {},
      { label: "Median", stroke: "#4f46e5", width: 2, points: { size: 5 } },
      { label: "90th percentile", stroke: "#d97706", width: 2, dash: [6, 4], points: { size: 4 } },
    ],
  }), []);
  const answered = days.filter((d) => d.first_response_median !== null).length;
  return html`<${Chart} options=${options} data=${data} height=${200} testid="report-response-chart"
    label=${`First-response time per day, median and 90th percentile: ${answered} of ${days.length} days with answers`} />`;
}

function AgentTable({ agents }) {
  if (!agents.length) return html`<p class="muted">No agent handled a conversation in this period.</p>`;
  return html`<div class="table-scroll"><table class="accounts report-agents" data-testid="report-agents">
    <thead><tr><th>Agent</th><th class="n">Chats</th><th class="n">First response<br/>median</th><th class="n">p90</th>
      <th class="n">Resolution<br/>median</th><th class="n">p90</th><th class="n">Satisfaction</th></tr></thead>
    <tbody>${agents.map((a) => html`
      <tr key=${a.agent_id} data-testid="report-agent-row">
        <td>${a.name}</td><td class="n">${number.format(a.figures.conversations)}</td>
        <td class="n">${duration(a.figures.first_response_median)}</td><td class="n">${duration(a.figures.first_response_p90)}</td>
        <td class="n">${duration(a.figures.resolution_median)}</td><td class="n">${duration(a.figures.resolution_p90)}</td>
        <td class="n">${stars(a.figures.satisfaction_average)}${a.figures.rated ? html` <span class="muted">(${a.figures.rated})</span>` : ""}</td>
      </tr>`)}</tbody>
  </table></div>`;
}

export function ReportsTab({ params }) {
  const initial = params && params.get("start") && params.get("end")
    ? { start: params.get("start"), end: params.get("end") }
    : daysBack(30);
  const [period, setPeriod] = useState(initial);
  const [report, setReport] = useState(null);
  const [error, setError] = useState("");
  const tz = -new Date().getTimezoneOffset();
  const search = query({ start: period.start, end: period.end, tz_offset: tz });
  useEffect(() => {
    let current = true;
    replace(`#/studio/reports?${new URLSearchParams({ start: period.start, end: period.end })}`);
    api("GET", `/api/v1/reports/support${search}`).then(
      (r) => { if (current) { setReport(r); setError(""); } },
      (e) => { if (current) setError(e.message); },
    );
    return () => { current = false; };
  }, [search]);
  const team = report && report.team;
  const preset = PRESETS.find((n) => {
    const p = daysBack(n);
    return p.start === period.start && p.end === period.end;
  });
  return html`
    <div class="reports" data-testid="studio-reports">
      <div class="report-head">
        <h1>Support</h1>
        <div class="period" role="group" aria-label="Period">
          ${PRESETS.map((n) => html`<button type="button" key=${n} class=${`small ${preset === n ? "" : "ghost"}`}
            aria-pressed=${preset === n ? "true" : "false"} onClick=${() => setPeriod(daysBack(n))}>${n} days</button>`)}
          <label>From <input type="date" data-testid="report-start" value=${period.start} max=${period.end}
            onChange=${(e) => e.target.value && setPeriod({ ...period, start: e.target.value })} /></label>
          <label>To <input type="date" data-testid="report-end" value=${period.end} min=${period.start}
            onChange=${(e) => e.target.value && setPeriod({ ...period, end: e.target.value })} /></label>
          <a class="csv" data-testid="report-csv" href=${`/api/v1/reports/support.csv${search}`} download>Export CSV</a>
        </div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!report ? (!error && html`<p class="muted">Loading…</p>`) : html`
        <div class="cards">
          <${Card} testid="report-conversations" label="Conversations" value=${number.format(team.conversations)}
            detail=${`${number.format(team.answered)} answered · ${number.format(team.resolved)} resolved`} />
          <${Card} testid="report-first-response" label="First response (median)" value=${duration(team.first_response_median)}
            detail=${`90% within ${duration(team.first_response_p90)}`} />
          <${Card} testid="report-resolution" label="Resolution (median)" value=${duration(team.resolution_median)}
            detail=${`90% within ${duration(team.resolution_p90)}`} />
          <${Card} testid="report-satisfaction" label="Satisfaction" value=${stars(team.satisfaction_average)}
            detail=${`${number.format(team.rated)} ${team.rated === 1 ? "rating" : "ratings"}`} />
        </div>
        <div class="report-grid">
          <section class="panel">
            <h2>Conversations per day</h2>
            <${PerDay} days=${report.days} />
          </section>
          <section class="panel"><${Distribution} counts=${team.satisfaction} /></section>
        </div>
        <section class="panel">
          <h2>First response per day</h2>
          <${ResponseTrend} days=${report.days} />
        </section>
        <section class="panel">
          <h2>Per agent</h2>
          <${AgentTable} agents=${report.agents} />
        </section>
        <p class="muted definitions">First response: from the customer's first message to the first agent reply (private notes do
          not count). Resolution: from opening to closing. Days in your time zone; conversations count on the day they opened.</p>`}
    </div>`;
}
