// Voucher pools: every pool with its counts, and the form that creates one (its refusals shown
// beside the field the REST API names).
import { api } from "../../../lib/api.js";
import { html, useEffect, useState } from "../../../lib/html.js";
import { go } from "../../../state/router.js";
import { fieldOf, poolExpiry, poolPath, poolValue } from "./pool-format.js";

const EMPTY = { name: "", kind: "percent", amount: "", currency: "EUR", expires_on: "", one_per_customer: true, source: "generated" };

function FieldError({ errors, field }) {
  return errors.field === field
    ? html`<span class="error" role="alert" data-testid=${`pool-error-${field}`}>${errors.message}</span>`
    : null;
}

function CreatePool({ onCreated }) {
  const [draft, setDraft] = useState(EMPTY);
  const [errors, setErrors] = useState({ field: "", message: "" });
  const [busy, setBusy] = useState(false);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      name: draft.name,
      kind: draft.kind,
      amount: Number(draft.amount),
      one_per_customer: draft.one_per_customer,
      source: draft.source,
    };
    if (draft.kind === "amount" && draft.currency.trim()) body.currency = draft.currency.trim().toUpperCase();
    // The end of the chosen day where the marketer is.
    if (draft.expires_on) body.expires_at = new Date(`${draft.expires_on}T23:59:59`).toISOString();
    setBusy(true);
    try {
      const pool = await api("POST", "/api/v1/voucher-pools", body);
      setErrors({ field: "", message: "" });
      setDraft(EMPTY);
      onCreated(pool);
    } catch (err) {
      setErrors(fieldOf(err));
    } finally {
      setBusy(false);
    }
  };
  const invalid = (field) => (errors.field === field ? "true" : undefined);
  return html`
    <form class="create" onSubmit=${submit} data-testid="pool-create" novalidate>
      <h2>New voucher pool</h2>
      <label class="grow">Name
        <input name="name" value=${draft.name} maxlength="100" aria-invalid=${invalid("name")} onInput=${set("name")} />
        <${FieldError} errors=${errors} field="name" /></label>
      <label>Value
        <select name="kind" aria-label="Value" value=${draft.kind} onChange=${set("kind")}>
          <option value="percent">Percentage off</option>
          <option value="amount">Amount off</option>
        </select></label>
      <label>${draft.kind === "percent" ? "Percent" : "Amount"}
        <input name="amount" type="number" min="0" step="any" value=${draft.amount} class="narrow"
          aria-invalid=${invalid("amount")} onInput=${set("amount")} />
        <${FieldError} errors=${errors} field="amount" /></label>
      ${draft.kind === "amount" && html`<label>Currency
        <input name="currency" value=${draft.currency} maxlength="3" class="narrow" aria-invalid=${invalid("currency")}
          onInput=${set("currency")} />
        <${FieldError} errors=${errors} field="currency" /></label>`}
      <label>Expires on
        <input name="expires_on" type="date" value=${draft.expires_on} aria-invalid=${invalid("expires_at")}
          onInput=${set("expires_on")} />
        <${FieldError} errors=${errors} field="expires_at" /></label>
      <label>Codes
        <select name="source" aria-label="Codes" value=${draft.source} onChange=${set("source")}>
          <option value="generated">Drawn by Rapport</option>
          <option value="imported">Imported from a list</option>
        </select></label>
      <label class="check"><input name="one_per_customer" type="checkbox" checked=${draft.one_per_customer}
        onChange=${set("one_per_customer")} /> One per customer</label>
      <button type="submit" disabled=${busy}>Create pool</button>
      ${errors.message && !errors.field && html`<p class="error" role="alert" data-testid="pool-error">${errors.message}</p>`}
    </form>`;
}

function PoolRow({ pool }) {
  const open = (e) => { e.preventDefault(); go(poolPath(pool.id)); };
  return html`
    <tr data-testid="pool-row" data-name=${pool.name}>
      <td data-label="Pool"><a href=${poolPath(pool.id)} onClick=${open}>${pool.name}</a></td>
      <td data-label="Value">${poolValue(pool)}</td>
      <td data-label="Expiry">${poolExpiry(pool)}</td>
      <td data-label="Available" class="num" title=${pool.available === null ? "codes drawn as they are issued" : ""}>${pool.available === null ? "∞" : pool.available}</td>
      <td data-label="Issued" class="num" data-testid="pool-issued">${pool.issued}</td>
      <td data-label="Redeemed" class="num" data-testid="pool-redeemed">${pool.redeemed}</td>
      <td data-label="Expired" class="num">${pool.expired}</td>
    </tr>`;
}

export function PoolList() {
  const [pools, setPools] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", "/api/v1/voucher-pools").then((r) => setPools(r.pools), (e) => setError(e.message));
  }, []);
  const created = (pool) => go(poolPath(pool.id));
  return html`
    <section aria-labelledby="pools-title">
      <h1 id="pools-title">Voucher pools</h1>
      <p class="muted intro">A pool is one offer with its codes: issue it to a segment, or import codes from your shop system, and follow what is redeemed.</p>
      <${CreatePool} onCreated=${created} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${pools === null
        ? !error && html`<p class="muted">Loading…</p>`
        : pools.length === 0
          ? html`<p class="muted" data-testid="pools-empty">No pools yet.</p>`
          : html`<table class="accounts pools" data-testid="pools">
              <thead><tr><th>Pool</th><th>Value</th><th>Expiry</th><th class="num">Available</th><th class="num">Issued</th>
                <th class="num">Redeemed</th><th class="num">Expired</th></tr></thead>
              <tbody>${pools.map((p) => html`<${PoolRow} key=${p.id} pool=${p} />`)}</tbody>
            </table>`}
    </section>`;
}
