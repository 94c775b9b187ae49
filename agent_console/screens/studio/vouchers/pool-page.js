// One voucher pool: its counts (kept fresh while the page is open), issuing it to a segment,
// importing codes into it, its codes page by page, and their CSV export.
import { api, query } from "../../../lib/api.js";
import { html, useCallback, useEffect, useState } from "../../../lib/html.js";
import { go } from "../../../state/router.js";
import { fieldOf, poolExpiry, poolPath, poolValue, when } from "./pool-format.js";

const PAGE = 50;
// How often the counts are read again: often while an issue runs, else enough to see redemptions come in.
const RUNNING_MS = 1000;
const IDLE_MS = 4000;

function Counts({ pool }) {
  const items = [
    ...(pool.available === null ? [] : [["available", "Available", pool.available]]),
    ["issued", "Issued", pool.issued],
    ["redeemed", "Redeemed", pool.redeemed],
    ["expired", "Expired", pool.expired],
  ];
  return html`<dl class="pool-counts">
    ${items.map(([key, label, value]) => html`<div key=${key}><dt>${label}</dt>
      <dd data-testid=${`count-${key}`}>${value}</dd></div>`)}
  </dl>`;
}

function IssueForm({ pool, segments, onStarted }) {
  const [chosen, setChosen] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const segmentId = chosen || (segments && segments.length ? segments[0].id : "");
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      onStarted(await api("POST", `/api/v1/voucher-pools/${encodeURIComponent(pool.id)}/issues`, { segment_id: segmentId }));
      setError("");
    } catch (err) {
      setError(fieldOf(err).message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="create" onSubmit=${submit} data-testid="pool-issue">
      <h2>Issue to a segment</h2>
      <p class="muted hint">Each member who consents to marketing gets a code in their widget${pool.one_per_customer ? ", once: members who hold one already get none" : ""}.</p>
      ${segments !== null && segments.length === 0
        ? html`<p class="muted">No segments yet: make one in the Segments tab.</p>`
        : html`<label class="grow">Segment
            <select name="segment" aria-label="Segment" value=${segmentId} onChange=${(e) => setChosen(e.target.value)} disabled=${segments === null}>
              ${(segments || []).map((s) => html`<option key=${s.id} value=${s.id}>${s.name} (${s.members} ${s.members === 1 ? "member" : "members"})</option>`)}
            </select></label>
          <button type="submit" disabled=${busy || !segmentId}>Issue codes</button>`}
      ${error && html`<p class="error" role="alert" data-testid="issue-error">${error}</p>`}
    </form>`;
}

function ImportForm({ pool, onImported }) {
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  // A file's lines become the text (the first column of a CSV), so what is sent can be read first.
  const load = async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    const lines = (await file.text()).split(/\r?\n/).map((line) => line.split(/[,;\t]/)[0].replace(/^"|"$/g, ""));
    // A spreadsheet's header line is not a code.
    if (lines.length && /^(voucher )?codes?$/i.test(lines[0].trim())) lines.shift();
    setText(lines.join("\n"));
  };
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const got = await api("POST", `/api/v1/voucher-pools/${encodeURIComponent(pool.id)}/codes`, { codes: text.split(/\r?\n/) });
      setResult(got);
      setError("");
      if (got.imported) setText("");
      onImported();
    } catch (err) {
      setError(fieldOf(err).message);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="create" onSubmit=${submit} data-testid="pool-import">
      <h2>Import codes</h2>
      <label class="wide">Codes, one per line
        <textarea name="codes" rows="4" value=${text} onInput=${(e) => setText(e.target.value)}
          placeholder="SPRING-0001" spellcheck="false"></textarea></label>
      <label>…or a file (.txt or .csv) <input type="file" accept=".txt,.csv,text/plain,text/csv" onChange=${load} /></label>
      <button type="submit" disabled=${busy || !text.trim()}>Import</button>
      ${error && html`<p class="error" role="alert" data-testid="import-error">${error}</p>`}
      ${result && html`<p class="ok" role="status" data-testid="import-result">Imported ${result.imported} ${result.imported === 1 ? "code" : "codes"}.</p>`}
      ${result && result.duplicates.length > 0 && html`<p class="error" role="alert" data-testid="import-duplicates">Refused as duplicates: ${result.duplicates.join(", ")}</p>`}
    </form>`;
}

function Issues({ issues, segments }) {
  if (!issues.length) return null;
  const names = Object.fromEntries((segments || []).map((s) => [s.id, s.name]));
  return html`<ul class="pool-issues" data-testid="pool-issues">
    ${issues.map((i) => html`<li key=${i.id} data-status=${i.status}>
      <strong>${names[i.segment_id] || "A segment"}</strong>
      <span class=${`status ${i.status}`}>${i.status === "running" ? "issuing…" : i.status}</span>
      <span class="muted">${i.issued} issued of ${i.members} ${i.members === 1 ? "member" : "members"}
        ${i.already_held ? ` · ${i.already_held} held one already` : ""}
        ${i.no_consent ? ` · ${i.no_consent} without marketing consent` : ""}
        ${i.no_code ? ` · ${i.no_code} left without: no codes left` : ""}</span>
    </li>`)}
  </ul>`;
}

const STATUS = { available: "available", issued: "issued", redeemed: "redeemed", expired: "expired" };

function Codes({ pool, version }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", `/api/v1/voucher-pools/${encodeURIComponent(pool.id)}/codes${query({ limit: PAGE, offset })}`)
      .then(setPage, (e) => setError(e.message));
  }, [pool.id, offset, version]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (page === null) return html`<p class="muted">Loading…</p>`;
  const last = Math.min(offset + PAGE, page.total);
  return html`
    <div class="pool-codes">
      <div class="codes-head">
        <h2>Codes</h2>
        <span class="muted" data-testid="codes-range">${page.total ? `${offset + 1}–${last} of ${page.total}` : "none yet"}</span>
        <span class="spacer"></span>
        <button type="button" class="ghost small" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <button type="button" class="ghost small" disabled=${last >= page.total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
        <a class="export" href=${`/api/v1/voucher-pools/${encodeURIComponent(pool.id)}/codes.csv`} download data-testid="codes-export">Export CSV</a>
      </div>
      ${page.codes.length > 0 && html`<table class="accounts codes" data-testid="codes">
        <thead><tr><th>Code</th><th>Customer</th><th>Status</th><th>Issued</th><th>Redeemed</th><th>Expires</th></tr></thead>
        <tbody>${page.codes.map((c) => html`<tr key=${c.code} data-testid="code-row" data-code=${c.code}>
          <td data-label="Code"><code>${c.code}</code></td>
          <td data-label="Customer"><span>${c.customer ? html`${c.customer_name || c.customer} <span class="muted">${c.customer_name ? c.customer : ""}</span>` : html`<span class="muted">not issued</span>`}</span></td>
          <td data-label="Status"><span class=${`status ${c.status}`}>${STATUS[c.status]}</span></td>
          <td data-label="Issued">${when(c.issued_at)}</td>
          <td data-label="Redeemed"><span>${c.redeemed_at ? html`${when(c.redeemed_at)} <span class="muted">${c.redeemed_order}</span>` : ""}</span></td>
          <td data-label="Expires">${when(c.expires_at)}</td>
        </tr>`)}</tbody>
      </table>`}
    </div>`;
}

export function PoolPage({ id }) {
  const [pool, setPool] = useState(null);
  const [issues, setIssues] = useState([]);
  const [segments, setSegments] = useState(null);
  const [error, setError] = useState("");
  const path = `/api/v1/voucher-pools/${encodeURIComponent(id)}`;
  const refresh = useCallback(async () => {
    try {
      const [got, runs] = await Promise.all([api("GET", path), api("GET", `${path}/issues`)]);
      setPool(got);
      setIssues(runs.issues);
      setError("");
      return runs.issues.some((i) => i.status === "running");
    } catch (err) {
      setError(err.message);
      return false;
    }
  }, [path]);
  useEffect(() => {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      const running = await refresh();
      if (!stopped) timer = setTimeout(tick, running ? RUNNING_MS : IDLE_MS);
    };
    tick();
    api("GET", "/api/v1/segments").then((r) => setSegments(r.segments), (e) => setError(e.message));
    return () => { stopped = true; clearTimeout(timer); };
  }, [refresh]);
  const back = (e) => { e.preventDefault(); go(poolPath()); };
  if (error && pool === null) {
    return html`<section><a href=${poolPath()} onClick=${back}>← All pools</a><p class="error" role="alert">${error}</p></section>`;
  }
  if (pool === null) return html`<p class="muted">Loading…</p>`;
  // The codes table follows the counts: read again whenever one of them moves.
  const version = `${pool.available}/${pool.issued}/${pool.redeemed}/${pool.expired}`;
  return html`
    <section class="pool-page" aria-labelledby="pool-title" data-testid="pool-page">
      <a href=${poolPath()} onClick=${back} class="back">← All pools</a>
      <h1 id="pool-title">${pool.name}</h1>
      <p class="muted summary">${[
        poolValue(pool), poolExpiry(pool), pool.one_per_customer ? "one per customer" : "a code per issue",
        pool.source === "imported" ? "imported codes" : "codes drawn by Rapport"].join(" · ")}</p>
      <${Counts} pool=${pool} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="pool-actions">
        <${IssueForm} pool=${pool} segments=${segments} onStarted=${refresh} />
        ${pool.source === "imported" && html`<${ImportForm} pool=${pool} onImported=${refresh} />`}
      </div>
      <${Issues} issues=${issues} segments=${segments} />
      <${Codes} pool=${pool} version=${version} />
    </section>`;
}
