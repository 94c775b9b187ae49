// Writing a campaign: kind, consent class, title and body with placeholders from the server's list,
// link, e-voucher, audience, a yearly date per customer, expiry, frequency cap; save, send now or
// schedule. The API's problems are shown beside the field they name; the preview beside the form.
import { api, query } from "../../../lib/api.js";
import { html, useEffect, useRef, useState } from "../../../lib/html.js";
import { replace } from "../../../state/router.js";
import { studioPath } from "../studio-screen.js";
import { KIND_LABELS, StatusPill, dateTime } from "./labels.js";
import { WidgetPreview } from "./widget-preview.js";

const EMPTY = {
  name: "", kind: "offer", consent: "marketing", title: "", body: "", url: "",
  hasVoucher: true, voucherKind: "percent", amount: "10", currency: "", validDays: "14",
  audienceType: "all", segmentId: "", days: "90", customerIds: "",
  recurring: false, dateField: "birthday", attribute: "", localTime: "09:00",
  expiresAt: "", hasCap: false, capMax: "1", capDays: "7", sendAt: "",
};

function localInput(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function formOf(c) {
  if (!c) return EMPTY;
  const a = c.audience;
  const field = c.recurring ? c.recurring.date_field : "birthday";
  return {
    ...EMPTY,
    name: c.name, kind: c.kind, consent: c.consent, title: c.title, body: c.body, url: c.url || "",
    hasVoucher: !!c.voucher,
    voucherKind: c.voucher ? c.voucher.kind : "percent",
    amount: c.voucher ? String(c.voucher.amount) : "10",
    currency: (c.voucher && c.voucher.currency) || "",
    validDays: c.voucher && c.voucher.valid_days ? String(c.voucher.valid_days) : "",
    audienceType: a.type, segmentId: a.segment_id || "", days: a.days ? String(a.days) : "90",
    customerIds: (a.customer_ids || []).join(", "),
    recurring: !!c.recurring,
    dateField: field === "birthday" ? "birthday" : "attribute",
    attribute: field.startsWith("attributes.") ? field.slice("attributes.".length) : "",
    localTime: c.recurring ? c.recurring.local_time : "09:00",
    expiresAt: localInput(c.expires_at),
    hasCap: !!c.frequency_cap,
    capMax: c.frequency_cap ? String(c.frequency_cap.max) : "1",
    capDays: c.frequency_cap ? String(c.frequency_cap.days) : "7",
    sendAt: c.status === "scheduled" ? localInput(c.send_at) : "",
  };
}

function number(text) {
  return text === "" ? undefined : Number(text);
}

function bodyOf(f) {
  const body = { name: f.name, kind: f.kind, consent: f.consent, title: f.title, body: f.body };
  if (f.url) body.url = f.url;
  if (f.hasVoucher) {
    body.voucher = { kind: f.voucherKind, amount: number(f.amount) };
    if (f.currency) body.voucher.currency = f.currency.toUpperCase();
    if (f.validDays) body.voucher.valid_days = number(f.validDays);
  }
  const audience = { type: f.audienceType };
  if (f.audienceType === "segment") audience.segment_id = f.segmentId || undefined;
  if (f.audienceType === "lapsed") audience.days = number(f.days);
  if (f.audienceType === "customers") audience.customer_ids = f.customerIds.split(/[\s,]+/).filter(Boolean);
  body.audience = audience;
  if (f.recurring || f.kind === "greeting") {
    body.recurring = {
      date_field: f.dateField === "birthday" ? "birthday" : `attributes.${f.attribute}`,
      local_time: f.localTime,
    };
  }
  if (f.expiresAt) body.expires_at = new Date(f.expiresAt).toISOString();
  if (f.hasCap) body.frequency_cap = { max: number(f.capMax), days: number(f.capDays) };
  return body;
}

// Where a problem's field is shown: the first part of its dotted name, or the form's foot.
const SLOTS = new Set(["name", "kind", "consent", "title", "body", "url", "voucher", "audience", "recurring",
  "expires_at", "frequency_cap", "send_at", "customer_id"]);

function FieldError({ error, slot }) {
  if (!error || !error.field || error.field.split(".")[0] !== slot) return null;
  return html`<span class="error field-error" role="alert" data-testid=${`error-${slot}`}>${error.message}</span>`;
}

export function Composer({ campaign, onChange }) {
  const [f, setF] = useState(() => formOf(campaign));
  const [saved, setSaved] = useState(campaign);
  const [dirty, setDirty] = useState(!campaign);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [segments, setSegments] = useState([]);
  const [placeholders, setPlaceholders] = useState([]);
  const [target, setTarget] = useState("body"); // where a placeholder goes: the field last focused
  const fields = { title: useRef(null), body: useRef(null) };
  useEffect(() => {
    api("GET", "/api/v1/segments").then((r) => setSegments(r.segments || []), () => setSegments([]));
    api("GET", "/api/v1/campaign-placeholders").then((r) => setPlaceholders(r.placeholders), () => {});
  }, []);
  const set = (key, value) => { setF((old) => ({ ...old, [key]: value })); setDirty(true); };
  const input = (key) => (e) => set(key, e.target.type === "checkbox" ? e.target.checked : e.target.value);

  // An offer comes with an e-voucher; other kinds start without one (a voucher makes it marketing).
  const pickKind = (e) => {
    const kind = e.target.value;
    setF((old) => ({ ...old, kind, hasVoucher: kind === "offer" }));
    setDirty(true);
  };
  const insert = (e) => {
    const name = e.target.value;
    e.target.value = "";
    if (!name) return;
    const key = target;
    const box = fields[key].current;
    const token = `{{ ${name} }}`;
    const at = box && typeof box.selectionStart === "number" ? box.selectionStart : f[key].length;
    const end = box && typeof box.selectionEnd === "number" ? box.selectionEnd : at;
    set(key, f[key].slice(0, at) + token + f[key].slice(end));
    requestAnimationFrame(() => { if (box) { box.focus(); box.setSelectionRange(at + token.length, at + token.length); } });
  };

  // Saves when changed; the campaign as stored, or null after a problem (shown).
  const save = async () => {
    if (saved && !dirty) return saved;
    setError(null);
    try {
      const stored = saved
        ? await api("PUT", `/api/v1/campaigns/${encodeURIComponent(saved.id)}`, bodyOf(f))
        : await api("POST", "/api/v1/campaigns", bodyOf(f));
      setSaved(stored);
      setDirty(false);
      // The address names the draft now, without a remount (the route still renders this form).
      if (!saved) history.replaceState(null, "", studioPath("campaigns", stored.id));
      return stored;
    } catch (err) {
      setError(SLOTS.has((err.field || "").split(".")[0]) ? err : { message: err.message, field: null });
      return null;
    }
  };
  const run = (work) => async (e) => {
    if (e) e.preventDefault();
    setBusy(true);
    try { await work(); } finally { setBusy(false); }
  };
  const send = (at) => run(async () => {
    const stored = await save();
    if (!stored) return;
    try {
      const body = at ? { send_at: new Date(at).toISOString() } : {};
      const sent = await api("POST", `/api/v1/campaigns/${encodeURIComponent(stored.id)}/send`, body);
      setSaved(sent);
      if (onChange) onChange(sent);
      else replace(`${studioPath("campaigns", sent.id)}?view=results`);
    } catch (err) {
      setError({ message: err.message, field: at ? "send_at" : err.field });
    }
  });

  // A scheduled campaign starts by itself (the server's scheduler): then this screen gives way to
  // its results, rather than offering a form the API would now refuse.
  const scheduledAt = saved && saved.status === "scheduled" ? saved.send_at : null;
  useEffect(() => {
    if (scheduledAt === null) return undefined;
    let live = true;
    let timer = 0;
    const look = () => api("GET", `/api/v1/campaigns/${encodeURIComponent(saved.id)}`).then((c) => {
      if (!live) return;
      if (c.status === "scheduled") { timer = setTimeout(look, 2000); return; }
      setSaved(c);
      if (onChange) onChange(c);
      else replace(`${studioPath("campaigns", c.id)}?view=results`);
    }, () => { if (live) timer = setTimeout(look, 5000); });
    timer = setTimeout(look, Math.max(scheduledAt - Date.now(), 0) + 1000);
    return () => { live = false; clearTimeout(timer); };
  }, [scheduledAt]);

  const greeting = f.kind === "greeting";
  const status = saved ? saved.status : "draft";
  return html`
    <section class="campaigns composer-screen" data-testid="campaign-composer">
      <div class="campaigns-head">
        <a class="back" href=${studioPath("campaigns")}>← Campaigns</a>
        <h1>${saved ? saved.name : "New campaign"}</h1>
        <${StatusPill} status=${status} />
        ${status === "scheduled" && html`<span class="muted" data-testid="campaign-send-time">sends ${dateTime(saved.send_at)}</span>`}
      </div>
      <div class="composer-grid">
        <form class="admin-form create campaign-form" onSubmit=${run(save)} data-testid="campaign-form" novalidate>
          <label class="wide">Name <input data-testid="campaign-name" value=${f.name} onInput=${input("name")} maxlength="200" />
            <${FieldError} error=${error} slot="name" /></label>
          <label>Kind <select data-testid="campaign-kind" value=${f.kind} onChange=${pickKind}>
            ${Object.entries(KIND_LABELS).map(([k, label]) => html`<option value=${k}>${label}</option>`)}</select>
            <${FieldError} error=${error} slot="kind" /></label>
          <fieldset class="consent" data-testid="campaign-consent">
            <legend>Consent class</legend>
            <label class="inline"><input type="radio" name="consent" value="marketing" checked=${f.consent === "marketing"}
              onChange=${() => set("consent", "marketing")} /> Marketing <small class="muted">(only customers who agreed; counts against caps)</small></label>
            <label class="inline"><input type="radio" name="consent" value="transactional" checked=${f.consent === "transactional"}
              onChange=${() => set("consent", "transactional")} data-testid="consent-transactional" /> Transactional <small class="muted">(a service message: everyone)</small></label>
            <${FieldError} error=${error} slot="consent" />
          </fieldset>

          <div class="wide placeholder-bar">
            <label class="inline">Insert placeholder
              <select data-testid="placeholder-pick" onChange=${insert} aria-label="Insert a placeholder at the cursor">
                <option value="">Choose…</option>
                ${placeholders.map((p) => html`<option value=${p.name} disabled=${p.voucher_only && !f.hasVoucher}
                  title=${p.description}>${p.name} — ${p.description}</option>`)}
              </select></label>
            <small class="muted">into the ${target} at the cursor</small>
          </div>
          <label class="wide">Title <input ref=${fields.title} data-testid="campaign-title" value=${f.title}
            onInput=${input("title")} onFocus=${() => setTarget("title")} maxlength="1000" />
            <${FieldError} error=${error} slot="title" /></label>
          <label class="wide">Body <textarea ref=${fields.body} data-testid="campaign-body" rows="4" value=${f.body}
            onInput=${input("body")} onFocus=${() => setTarget("body")} maxlength="5000"></textarea>
            <${FieldError} error=${error} slot="body" /></label>
          <label class="wide">Link <input data-testid="campaign-url" type="url" placeholder="https://…" value=${f.url} onInput=${input("url")} />
            <${FieldError} error=${error} slot="url" /></label>

          <fieldset class="wide group">
            <legend><label class="inline"><input type="checkbox" data-testid="campaign-voucher" checked=${f.hasVoucher}
              onChange=${input("hasVoucher")} /> E-voucher for each customer</label></legend>
            ${f.hasVoucher && html`
              <label>Type <select data-testid="voucher-kind" value=${f.voucherKind} onChange=${input("voucherKind")}>
                <option value="percent">Percent off</option><option value="amount">Amount off</option></select></label>
              <label>Value <input data-testid="voucher-amount" type="number" min="0" step="any" value=${f.amount} onInput=${input("amount")} /></label>
              ${f.voucherKind === "amount" && html`<label>Currency <input data-testid="voucher-currency" value=${f.currency}
                onInput=${input("currency")} maxlength="3" placeholder="EUR" /></label>`}
              <label>Valid for days <input data-testid="voucher-days" type="number" min="1" value=${f.validDays} onInput=${input("validDays")} /></label>`}
            <${FieldError} error=${error} slot="voucher" />
          </fieldset>

          <fieldset class="wide group">
            <legend>Audience</legend>
            <label>Who <select data-testid="audience-type" value=${f.audienceType} onChange=${input("audienceType")}>
              <option value="all">All customers</option>
              <option value="segment">A segment</option>
              <option value="lapsed">Lapsed: no order for N days</option>
              <option value="customers">Chosen customers</option></select></label>
            ${f.audienceType === "segment" && html`<label>Segment <select data-testid="audience-segment" value=${f.segmentId}
              onChange=${input("segmentId")}><option value="">Choose…</option>
              ${segments.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select></label>`}
            ${f.audienceType === "lapsed" && html`<label>Days <input data-testid="audience-days" type="number" min="1"
              value=${f.days} onInput=${input("days")} /></label>`}
            ${f.audienceType === "customers" && html`<label class="wide">Shop customer ids <textarea data-testid="audience-customers"
              rows="2" value=${f.customerIds} onInput=${input("customerIds")} placeholder="u1, u2, u3"></textarea></label>`}
            <${FieldError} error=${error} slot="audience" />
          </fieldset>

          <fieldset class="wide group">
            <legend><label class="inline"><input type="checkbox" data-testid="campaign-recurring" checked=${f.recurring || greeting}
              disabled=${greeting} onChange=${input("recurring")} /> Recurring: every year on each customer's date</label></legend>
            ${(f.recurring || greeting) && html`
              <label>Date <select data-testid="recurring-field" value=${f.dateField} onChange=${input("dateField")}>
                <option value="birthday">Birthday</option><option value="attribute">Another date attribute</option></select></label>
              ${f.dateField === "attribute" && html`<label>Attribute <input data-testid="recurring-attribute" value=${f.attribute}
                onInput=${input("attribute")} placeholder="member_since" /></label>`}
              <label>At (their time) <input data-testid="recurring-time" type="time" value=${f.localTime} onInput=${input("localTime")} /></label>`}
            <${FieldError} error=${error} slot="recurring" />
          </fieldset>

          <fieldset class="wide group">
            <legend>Limits</legend>
            <label>Expires <input data-testid="campaign-expires" type="datetime-local" value=${f.expiresAt} onInput=${input("expiresAt")} />
              <${FieldError} error=${error} slot="expires_at" /></label>
            <label class="inline"><input type="checkbox" data-testid="campaign-cap" checked=${f.hasCap} onChange=${input("hasCap")} />
              Frequency cap</label>
            ${f.hasCap && html`<label>At most <input data-testid="cap-max" type="number" min="1" value=${f.capMax} onInput=${input("capMax")} /></label>
              <label>per days <input data-testid="cap-days" type="number" min="1" value=${f.capDays} onInput=${input("capDays")} /></label>`}
            <${FieldError} error=${error} slot="frequency_cap" />
          </fieldset>

          <div class="wide send-bar">
            <button type="submit" class="ghost" disabled=${busy} data-testid="campaign-save">${dirty ? "Save draft" : "Saved"}</button>
            <span class="spacer"></span>
            <label class="inline">Schedule <input data-testid="campaign-send-at" type="datetime-local" value=${f.sendAt}
              onInput=${(e) => setF({ ...f, sendAt: e.target.value })} /></label>
            <button type="button" class="ghost" disabled=${busy || !f.sendAt} data-testid="campaign-schedule" onClick=${send(f.sendAt)}>Schedule</button>
            <button type="button" disabled=${busy} data-testid="campaign-send" onClick=${send(null)}>${greeting || f.recurring ? "Start" : "Send now"}</button>
          </div>
          <${FieldError} error=${error} slot="send_at" />
          ${error && !error.field && html`<p class="error wide" role="alert" data-testid="campaign-error">${error.message}</p>`}
        </form>
        <${PreviewPanel} save=${save} saved=${saved} />
      </div>
    </section>`;
}

function PreviewPanel({ save }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState([]);
  const [customer, setCustomer] = useState(null);
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!q.trim()) { setFound([]); return undefined; }
    const timer = setTimeout(() => {
      api("GET", `/api/v1/customers${query({ q: q.trim(), limit: 8 })}`).then((r) => setFound(r.customers), () => setFound([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [q]);
  const show = async (who) => {
    setCustomer(who);
    setFound([]);
    setError("");
    const stored = await save();
    if (!stored) { setPreview(null); setError("Fix the form first."); return; }
    try {
      setPreview(await api("POST", `/api/v1/campaigns/${encodeURIComponent(stored.id)}/preview`, { customer_id: who.external_id }));
    } catch (err) {
      setPreview(null);
      setError(err.message);
    }
  };
  return html`
    <aside class="preview-panel" data-testid="preview-panel" aria-label="Preview">
      <h2>Preview</h2>
      <label class="preview-search">For customer <input data-testid="preview-search" type="search" value=${q}
        placeholder="Name, e-mail or id" onInput=${(e) => setQ(e.target.value)}
        onKeyDown=${(e) => { if (e.key === "Enter" && found.length) { e.preventDefault(); show(found[0]); } }} /></label>
      ${found.length > 0 && html`<ul class="customer-results" role="listbox" aria-label="Customers found">${found.map((c) => html`
        <li key=${c.id}><button type="button" class="ghost small" data-testid="preview-result" onClick=${() => show(c)}>
          ${c.name || c.external_id} <span class="muted">${c.email || c.external_id}</span></button></li>`)}</ul>`}
      ${customer && html`<p class="muted who">As <strong>${customer.name || customer.external_id}</strong> sees it:${" "}
        <button type="button" class="link" onClick=${() => show(customer)}>refresh</button></p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${preview && html`
        <${WidgetPreview} notification=${preview.notification} />
        ${preview.held_back && html`<p class="held" data-testid="preview-held">${preview.held_back === "no_consent"
          ? "Held back for this customer: no marketing consent."
          : "This customer is not in the audience: they would not get it."}</p>`}`}
      ${!customer && html`<p class="muted">Search a customer to see the campaign as the widget will show it to them,
        placeholders filled in.</p>`}
    </aside>`;
}
