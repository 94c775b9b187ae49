// Admins write the canned replies agents insert with '/': a title, a shortcut and a body whose
// placeholders are the campaigns' ({{ customer.first_name }}, {{ customer.loyalty_points }}…).
import { api } from "../../lib/api.js";
import { html, useEffect, useState } from "../../lib/html.js";

const EMPTY = { title: "", shortcut: "", body: "" };

export function CannedRepliesScreen({ world }) {
  const [replies, setReplies] = useState(null);
  const [draft, setDraft] = useState(EMPTY);
  const [editing, setEditing] = useState(null); // id being edited, or null for a new one
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", "/api/v1/canned-replies").then((r) => setReplies(r.replies), (e) => setError(e.message));
  }, []);
  const changed = () => world.inbox?.forgetCannedReplies();
  const submit = async (e) => {
    e.preventDefault();
    try {
      if (editing) {
        const reply = await api("PATCH", `/api/v1/canned-replies/${encodeURIComponent(editing)}`, draft);
        setReplies(replies.map((r) => (r.id === reply.id ? reply : r)));
      } else {
        const reply = await api("POST", "/api/v1/canned-replies", draft);
        setReplies([...replies, reply].sort((a, b) => a.shortcut.localeCompare(b.shortcut)));
      }
      setDraft(EMPTY);
      setEditing(null);
      setError("");
      changed();
    } catch (err) {
      setError(err.message);
    }
  };
  const remove = async (reply) => {
    try {
      await api("DELETE", `/api/v1/canned-replies/${encodeURIComponent(reply.id)}`);
      setReplies(replies.filter((r) => r.id !== reply.id));
      changed();
    } catch (err) {
      setError(err.message);
    }
  };
  const set = (field) => (e) => setDraft({ ...draft, [field]: e.target.value });
  return html`
    <section class="admin" aria-labelledby="canned-title">
      <h1 id="canned-title">Canned replies</h1>
      <form class="create canned-form" onSubmit=${submit} data-testid="canned-form">
        <h2>${editing ? "Edit reply" : "New reply"}</h2>
        <label>Title <input data-testid="canned-title" value=${draft.title} onInput=${set("title")} required maxlength="100" /></label>
        <label>Shortcut <span class="prefix">/<input data-testid="canned-shortcut" value=${draft.shortcut} onInput=${set("shortcut")}
          required maxlength="32" pattern="[A-Za-z0-9_\\-]+" title="letters, digits, - and _" /></span></label>
        <label class="wide">Body <textarea data-testid="canned-body" rows="4" value=${draft.body} onInput=${set("body")} required maxlength="4000"></textarea>
          <small class="muted">Placeholders: {{ customer.first_name }}, {{ customer.name }}, {{ customer.loyalty_points }},
            {{ customer.tier }}, {{ customer.email }}; e.g. {{ customer.first_name or "there" }}.</small></label>
        <div class="actions">
          ${editing && html`<button type="button" class="ghost" onClick=${() => { setEditing(null); setDraft(EMPTY); }}>Cancel</button>`}
          <button type="submit" data-testid="canned-save">${editing ? "Save" : "Add"}</button>
        </div>
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </form>
      ${replies === null
        ? html`<p class="muted">Loading…</p>`
        : replies.length === 0
          ? html`<p class="muted">No canned replies yet: add the answers your team gives every day.</p>`
          : html`<ul class="canned-list">${replies.map((r) => html`
            <li key=${r.id} data-testid="canned-row">
              <div class="line"><code>/${r.shortcut}</code><strong>${r.title}</strong><span class="spacer"></span>
                <button class="small ghost" onClick=${() => { setEditing(r.id); setDraft({ title: r.title, shortcut: r.shortcut, body: r.body }); }}>Edit</button>
                <button class="small ghost" onClick=${() => remove(r)}>Delete</button></div>
              <p class="body">${r.body}</p>
            </li>`)}</ul>`}
    </section>`;
}
