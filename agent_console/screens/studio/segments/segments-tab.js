// The studio's segments tab (issue 11): the shop's segments with their member counts, the built-in
// lapsed customers, and a rule builder (attribute, operator, value; all or any) whose fields and
// operators come from the server (GET /api/v1/segments/attributes), with a live count and a
// sample of members from the same preview call the REST API offers (one body for preview and save).
import { api, query } from "../../../lib/api.js";
import { html, useEffect, useMemo, useRef, useState } from "../../../lib/html.js";
import { go } from "../../../state/router.js";

const PATH = "#/studio/segments";
const PREVIEW_DELAY = 300; // ms of quiet after a change before the count is asked for
const SAMPLE = 10;
const LAPSED_DAYS = 90;
const GROUPS = [["shop", "The shop's attributes"], ["behaviour", "What Rapport sees"], ["custom", "Custom attributes"]];

const number = new Intl.NumberFormat();
const MONTHS = Array.from({ length: 12 }, (_, i) => new Date(2000, i, 1).toLocaleString(undefined, { month: "long" }));
const plural = (n, one, many) => `${number.format(n)} ${n === 1 ? one : many}`;

function lapsedRules(days) {
  return { field: "last_order_at", op: "days_since_gt", value: days };
}

// A stored rule tree as the builder's rows, or null when it is nested deeper than one group.
function rowsOf(rules) {
  if (rules.field) return { match: "all", rows: [toRow(rules)] };
  const parts = rules.all || rules.any;
  if (!parts || parts.some((p) => !p.field)) return null;
  return { match: rules.all ? "all" : "any", rows: parts.map(toRow) };
}

function toRow(rule) {
  const value = rule.value === undefined || rule.value === null ? "" : Array.isArray(rule.value) ? rule.value.join(", ") : String(rule.value);
  return { field: rule.field, op: rule.op, value };
}

// A row as a rule, with its value typed as the field and operator want; null while incomplete.
function toRule(row, catalogue) {
  const field = catalogue.fields.find((f) => f.field === row.field);
  const op = catalogue.ops.find((o) => o.op === row.op);
  if (!field || !op) return null;
  if (op.value === "none") return { field: row.field, op: row.op };
  const text = row.value.trim();
  if (!text) return null;
  const numeric = field.kind === "number" || field.kind === "count" || op.value === "days" || op.value === "month";
  const typed = (v) => {
    if (field.kind === "bool") return v === "true";
    if (!numeric) return v;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  if (op.value === "list") {
    const values = text.split(",").map((v) => typed(v.trim())).filter((v) => v !== null && v !== "");
    return values.length ? { field: row.field, op: row.op, value: values } : null;
  }
  const value = typed(text);
  return value === null ? null : { field: row.field, op: row.op, value };
}

function rulesOf(match, rows, catalogue) {
  const rules = rows.map((r) => toRule(r, catalogue)).filter(Boolean);
  return rules.length ? { [match]: rules } : null;
}

// A segment's rules in words, for the list: "Tier is gold · Last order more than 90 days ago".
function describe(rules, catalogue) {
  const one = (r) => {
    if (!r.field) return "…";
    const field = catalogue.fields.find((f) => f.field === r.field);
    const op = catalogue.ops.find((o) => o.op === r.op);
    let value = Array.isArray(r.value) ? r.value.join(", ") : r.value === undefined ? "" : String(r.value);
    if (op && op.value === "month") value = MONTHS[Number(r.value) - 1] || value;
    const words = op ? op.label.replace("…", value) : r.op;
    const label = field ? field.label : r.field;
    return op && (op.value === "days" || op.value === "none") ? `${label} ${words}` : `${label} ${words} ${value}`;
  };
  if (rules.field) return one(rules);
  const parts = rules.all || rules.any || [];
  return parts.map(one).join(rules.all ? " · " : " or ");
}

function when(ms) {
  return ms ? new Date(ms).toLocaleDateString() : "—";
}

function ValueInput({ row, field, op, onChange }) {
  if (!op || op.value === "none") return html`<span class="rule-value none"></span>`;
  if (op.value === "month") {
    return html`<select class="rule-value" aria-label="Value" data-testid="rule-value" value=${row.value}
      onChange=${(e) => onChange(e.target.value)}>
      <option value="">choose…</option>${MONTHS.map((m, i) => html`<option key=${m} value=${String(i + 1)}>${m}</option>`)}</select>`;
  }
  if (field && field.kind === "bool") {
    return html`<select class="rule-value" aria-label="Value" data-testid="rule-value" value=${row.value}
      onChange=${(e) => onChange(e.target.value)}>
      <option value="">choose…</option><option value="true">yes</option><option value="false">no</option></select>`;
  }
  const numeric = op.value === "days" || (op.value === "one" && field && (field.kind === "number" || field.kind === "count"));
  // The values customers have now (tiers, tags) are offered as the marketer types.
  const suggest = field && field.values && field.values.length && !numeric ? `values-${field.field}` : undefined;
  return html`<span class="rule-value">
    ${suggest && html`<datalist id=${suggest}>${field.values.map((v) => html`<option key=${v} value=${v} />`)}</datalist>`}
    <input aria-label="Value" data-testid="rule-value" type=${numeric ? "number" : "text"} value=${row.value} list=${suggest}
      placeholder=${op.value === "list" ? "a, b, c" : op.value === "days" ? "days" : "value"} maxlength="200"
      onInput=${(e) => onChange(e.target.value)} />
    ${op.value === "days" && html`<span class="muted">days</span>`}</span>`;
}

function RuleRow({ row, catalogue, onChange, onRemove }) {
  const field = catalogue.fields.find((f) => f.field === row.field);
  const ops = field ? catalogue.ops.filter((o) => field.ops.includes(o.op)) : [];
  const op = ops.find((o) => o.op === row.op);
  const pickField = (name) => {
    const next = catalogue.fields.find((f) => f.field === name);
    const keep = next && next.ops.includes(row.op);
    onChange({ field: name, op: keep ? row.op : next ? next.ops[0] : "", value: keep ? row.value : "" });
  };
  return html`
    <li class="rule" data-testid="rule-row">
      <select aria-label="Attribute" data-testid="rule-field" value=${row.field} onChange=${(e) => pickField(e.target.value)}>
        ${GROUPS.map(([group, label]) => {
          const fields = catalogue.fields.filter((f) => f.group === group);
          return fields.length ? html`<optgroup label=${label}>
            ${fields.map((f) => html`<option key=${f.field} value=${f.field}>${f.label}</option>`)}</optgroup>` : null;
        })}
      </select>
      <select aria-label="Operator" data-testid="rule-op" value=${row.op}
        onChange=${(e) => onChange({ ...row, op: e.target.value })}>
        ${ops.map((o) => html`<option key=${o.op} value=${o.op}>${o.label}</option>`)}
      </select>
      <${ValueInput} row=${row} field=${field} op=${op} onChange=${(value) => onChange({ ...row, value })} />
      <button type="button" class="small ghost remove" aria-label="Remove this rule" onClick=${onRemove}>×</button>
    </li>`;
}

function Sample({ preview }) {
  if (!preview) return null;
  if (!preview.customers.length) return html`<p class="muted">No customer matches these rules.</p>`;
  return html`
    <table class="accounts sample" data-testid="segment-sample">
      <thead><tr><th>Name</th><th>E-mail</th><th>Tier</th><th>Points</th><th>Last order</th></tr></thead>
      <tbody>${preview.customers.map((c) => html`
        <tr key=${c.id} data-testid="sample-row">
          <td>${c.name || c.external_id}</td><td>${c.email || "—"}</td><td>${c.tier || "—"}</td>
          <td>${number.format(c.loyalty_points)}</td><td>${when(c.last_order_at)}</td></tr>`)}</tbody>
    </table>`;
}

function Editor({ catalogue, segment, builtin, notice, onSaved, onDeleted }) {
  const start = useMemo(() => rowsOf(segment.rules) || { match: "all", rows: [], nested: true }, [segment]);
  const [name, setName] = useState(segment.name);
  const [match, setMatch] = useState(start.match);
  const [rows, setRows] = useState(start.rows);
  const [preview, setPreview] = useState(null);
  const [problem, setProblem] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const asked = useRef(0);
  const rules = start.nested ? segment.rules : rulesOf(match, rows, catalogue);
  const key = JSON.stringify(rules);

  // The live count: asked for after a quiet moment; only the latest answer is shown.
  useEffect(() => {
    if (!rules) {
      setPreview(null);
      setProblem("");
      return undefined;
    }
    const mine = ++asked.current;
    const timer = setTimeout(async () => {
      try {
        const found = await api("POST", `/api/v1/segments/preview${query({ limit: SAMPLE })}`, { name, rules });
        if (mine === asked.current) {
          setPreview(found);
          setProblem("");
        }
      } catch (err) {
        if (mine === asked.current) setProblem(err.message);
      }
    }, PREVIEW_DELAY);
    return () => clearTimeout(timer);
  }, [key]);

  const change = (i, row) => setRows(rows.map((r, j) => (j === i ? row : r)));
  const add = () => {
    const first = catalogue.fields[0];
    setRows([...rows, { field: first.field, op: first.ops[0], value: "" }]);
  };
  const save = async (e) => {
    e.preventDefault();
    if (!rules) {
      setError("Add at least one complete rule.");
      return;
    }
    setBusy(true);
    try {
      const body = { name: name.trim(), rules };
      const saved = segment.id
        ? await api("PUT", `/api/v1/segments/${encodeURIComponent(segment.id)}`, body)
        : await api("POST", "/api/v1/segments", body);
      setError("");
      onSaved(saved);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the segment “${segment.name}”? Campaigns aimed at it will select no one.`)) return;
    try {
      await api("DELETE", `/api/v1/segments/${encodeURIComponent(segment.id)}`);
      onDeleted();
    } catch (err) {
      setError(err.message);
    }
  };
  const counted = preview && rules && !problem;
  return html`
    <form class="segment-editor" onSubmit=${save} data-testid="segment-editor">
      <div class="editor-head">
        <a href=${PATH} class="back" onClick=${(e) => { e.preventDefault(); go(PATH); }}>← Segments</a>
        <h1>${segment.id ? segment.name : builtin ? "Lapsed customers" : "New segment"}</h1>
      </div>
      ${builtin && html`<p class="muted">Built in: customers whose last order is more than ${LAPSED_DAYS} days old. Campaigns can
        aim at it directly (audience “lapsed”); change the rules and save to keep your own version.</p>`}
      <label class="name">Name <input data-testid="segment-name" value=${name} required maxlength="100"
        onInput=${(e) => setName(e.target.value)} placeholder="e.g. Gold members who have not ordered for 90 days" /></label>
      ${start.nested
        ? html`<p class="muted">These rules are nested deeper than the builder shows; change them through the API.</p>
               <pre class="rules-json">${JSON.stringify(segment.rules, null, 2)}</pre>`
        : html`
          <fieldset class="rules">
            <legend>Customers who match
              <select aria-label="Match" data-testid="segment-match" value=${match} onChange=${(e) => setMatch(e.target.value)}>
                <option value="all">all</option><option value="any">any</option></select>
              of these rules</legend>
            <ol class="rule-list">${rows.map((row, i) => html`<${RuleRow} key=${i} row=${row} catalogue=${catalogue}
              onChange=${(r) => change(i, r)} onRemove=${() => setRows(rows.filter((_, j) => j !== i))} />`)}</ol>
            <button type="button" class="ghost" data-testid="add-rule" onClick=${add}>+ Add a rule</button>
          </fieldset>`}
      <section class="live" aria-live="polite">
        <p class="count" data-testid="segment-count">${counted
          ? plural(preview.total, "customer matches", "customers match")
          : rules ? "Counting…" : "Add a rule to see who matches."}</p>
        ${problem && html`<p class="error" role="alert" data-testid="segment-problem">${problem}</p>`}
        ${counted && html`<${Sample} preview=${preview} />`}
      </section>
      <div class="actions">
        <button type="submit" data-testid="segment-save" disabled=${busy}>${segment.id ? "Save changes" : "Save segment"}</button>
        ${segment.id && html`<button type="button" class="ghost danger" data-testid="segment-delete" onClick=${remove}>Delete</button>`}
        ${notice && !error && key === JSON.stringify(segment.rules) && name === segment.name
          && html`<p class="ok" role="status" data-testid="segment-saved">${notice}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </div>
    </form>`;
}

function List({ segments, lapsed, catalogue }) {
  const open = (id) => (e) => { e.preventDefault(); go(`${PATH}/${encodeURIComponent(id)}`); };
  return html`
    <div class="segments-list">
      <div class="list-head">
        <h1>Segments</h1>
        <button type="button" data-testid="segment-new" onClick=${() => go(`${PATH}/new`)}>New segment</button>
      </div>
      <table class="accounts" data-testid="segments-table">
        <thead><tr><th>Segment</th><th class="n">Customers</th></tr></thead>
        <tbody>
          <tr class="builtin" data-testid="segment-row-lapsed">
            <td><a href=${`${PATH}/lapsed`} onClick=${open("lapsed")}>Lapsed customers</a>
              <span class="badge">built in</span><div class="muted">No order for ${LAPSED_DAYS} days</div></td>
            <td class="n">${lapsed === null ? "…" : number.format(lapsed)}</td></tr>
          ${segments.map((s) => html`
            <tr key=${s.id} data-testid="segment-row">
              <td><a href=${`${PATH}/${encodeURIComponent(s.id)}`} onClick=${open(s.id)}>${s.name}</a>
                <div class="muted rules-words" data-testid="segment-rules">${describe(s.rules, catalogue)}</div></td>
              <td class="n">${number.format(s.members)}</td></tr>`)}
        </tbody>
      </table>
      ${!segments.length && html`<p class="muted">No segments yet: build one with “New segment”.</p>`}
    </div>`;
}

export function SegmentsTab({ id }) {
  const [catalogue, setCatalogue] = useState(null);
  const [segments, setSegments] = useState(null);
  const [lapsed, setLapsed] = useState(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState({ id: null, text: "" }); // shown on the saved segment's page only
  const load = () => {
    api("GET", "/api/v1/segments").then((r) => setSegments(r.segments), (e) => setError(e.message));
    api("GET", `/api/v1/segments/builtin/lapsed${query({ days: LAPSED_DAYS, limit: 1 })}`)
      .then((r) => setLapsed(r.total), (e) => setError(e.message));
  };
  useEffect(() => {
    api("GET", "/api/v1/segments/attributes").then(setCatalogue, (e) => setError(e.message));
    load();
  }, []);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!catalogue || !segments) return html`<p class="muted">Loading…</p>`;
  const saved = (segment) => {
    setSegments([...segments.filter((s) => s.id !== segment.id), segment].sort((a, b) => a.name.localeCompare(b.name)));
    setNotice({ id: segment.id, text: `Saved: ${plural(segment.members, "customer", "customers")} now.` });
    go(`${PATH}/${encodeURIComponent(segment.id)}`);
  };
  const deleted = () => {
    load();
    go(PATH);
  };
  let editing = null;
  if (id === "new") editing = { name: "", rules: { all: [] } };
  else if (id === "lapsed") editing = { name: `Lapsed customers (${LAPSED_DAYS} days)`, rules: { all: [lapsedRules(LAPSED_DAYS)] } };
  else if (id) editing = segments.find((s) => s.id === id);
  if (id && !editing) return html`<p class="muted">No such segment. <a href=${PATH}>All segments</a></p>`;
  return html`<div class="segments" data-testid="studio-segments">
    ${editing
      ? html`<${Editor} key=${id} catalogue=${catalogue} segment=${editing} builtin=${id === "lapsed"}
          notice=${notice.id === id ? notice.text : ""} onSaved=${saved} onDeleted=${deleted} />`
      : html`<${List} segments=${segments} lapsed=${lapsed} catalogue=${catalogue} />`}
  </div>`;
}
