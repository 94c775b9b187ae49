// Admins manage who works in the console: create accounts, change a name, role or cap of
// concurrent chats, deactivate and reactivate (the existing /api/v1/accounts).
import { api } from "../../lib/api.js";
import { html, useEffect, useState } from "../../lib/html.js";

const ROLES = ["agent", "admin", "marketer"];

function AccountRow({ account, me, onSaved }) {
  const [draft, setDraft] = useState(account);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => setDraft(account), [account]);
  const changed = draft.name !== account.name || draft.role !== account.role || Number(draft.max_concurrent) !== account.max_concurrent;
  const save = async (fields) => {
    setBusy(true);
    try {
      onSaved(await api("PATCH", `/api/v1/accounts/${encodeURIComponent(account.id)}`, fields));
      setError("");
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e) => {
    e.preventDefault();
    save({ name: draft.name, role: draft.role, max_concurrent: Number(draft.max_concurrent) });
  };
  return html`
    <tr class=${account.disabled ? "disabled" : ""} data-testid="account-row" data-email=${account.email}>
      <td><input aria-label="Name" value=${draft.name} maxlength="100" form=${`f-${account.id}`} onInput=${(e) => setDraft({ ...draft, name: e.target.value })} /></td>
      <td>${account.email}</td>
      <td><select aria-label="Role" value=${draft.role} form=${`f-${account.id}`} onChange=${(e) => setDraft({ ...draft, role: e.target.value })}>
        ${ROLES.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select></td>
      <td><input aria-label="Concurrent chats" type="number" min="1" max="100" value=${draft.max_concurrent} form=${`f-${account.id}`}
        onInput=${(e) => setDraft({ ...draft, max_concurrent: e.target.value })} /></td>
      <td>
        <form id=${`f-${account.id}`} onSubmit=${submit} class="row-actions">
          <button type="submit" class="small" disabled=${!changed || busy}>Save</button>
          ${account.id !== me.id && html`<button type="button" class="small ghost" data-testid="toggle-disabled" disabled=${busy}
            onClick=${() => save({ disabled: !account.disabled })}>${account.disabled ? "Reactivate" : "Deactivate"}</button>`}
        </form>
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </td>
    </tr>`;
}

export function AgentsScreen({ me }) {
  const [accounts, setAccounts] = useState(null);
  const [error, setError] = useState("");
  const [created, setCreated] = useState("");
  useEffect(() => {
    api("GET", "/api/v1/accounts").then((r) => setAccounts(r.accounts), (e) => setError(e.message));
  }, []);
  const saved = (account) => setAccounts(accounts.map((a) => (a.id === account.id ? account : a)));
  const create = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      const account = await api("POST", "/api/v1/accounts", {
        name: form.get("name"), email: form.get("email"), password: form.get("password"), role: form.get("role"),
        max_concurrent: Number(form.get("max_concurrent")),
      });
      setAccounts([...accounts, account]);
      setCreated(`${account.name} can log in now.`);
      setError("");
      e.target.reset();
    } catch (err) {
      setError(err.message);
      setCreated("");
    }
  };
  return html`
    <section class="admin" aria-labelledby="agents-title">
      <h1 id="agents-title">Agents</h1>
      <form class="create" onSubmit=${create} data-testid="account-create">
        <h2>New account</h2>
        <label>Name <input name="name" required maxlength="100" /></label>
        <label>E-mail <input name="email" type="email" required /></label>
        <label>Password <input name="password" type="password" required minlength="12" autocomplete="new-password" /></label>
        <label>Role <select name="role">${ROLES.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select></label>
        <label>Concurrent chats <input name="max_concurrent" type="number" min="1" max="100" value="5" /></label>
        <button type="submit">Create</button>
        ${created && html`<p class="ok" role="status">${created}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </form>
      ${accounts === null
        ? html`<p class="muted">Loading…</p>`
        : html`<table class="accounts">
            <thead><tr><th>Name</th><th>E-mail</th><th>Role</th><th>Chats at once</th><th></th></tr></thead>
            <tbody>${accounts.map((a) => html`<${AccountRow} key=${a.id} account=${a} me=${me} onSaved=${saved} />`)}</tbody>
          </table>`}
    </section>`;
}
