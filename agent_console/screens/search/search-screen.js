// Search every transcript (yours, or everyone's for an admin): by words (ranked, with the
// matching snippet), by customer (name, e-mail, shop id), by the agent who had it. A hit opens
// the conversation at that message.
import { api, query } from "../../lib/api.js";
import { html, useEffect, useRef, useState } from "../../lib/html.js";
import { shortWhen } from "../../lib/time.js";
import { customerLabel } from "../../state/inbox.js";
import { go, inboxPath, replace } from "../../state/router.js";
import { useTopics } from "../../state/topics.js";

const MARK_START = "\u0002";
const MARK_END = "\u0003";

// The snippet's matched words become <mark> elements; everything else stays text.
export function Snippet({ text }) {
  const parts = [];
  let rest = text;
  let key = 0;
  while (rest) {
    const start = rest.indexOf(MARK_START);
    if (start === -1) {
      parts.push(rest);
      break;
    }
    const end = rest.indexOf(MARK_END, start);
    parts.push(rest.slice(0, start));
    parts.push(html`<mark key=${key++}>${rest.slice(start + 1, end === -1 ? undefined : end)}</mark>`);
    rest = end === -1 ? "" : rest.slice(end + 1);
  }
  return html`<span class="snippet">${parts}</span>`;
}

function open(inbox, summary, seq = null) {
  if (!inbox.conversations.has(summary.id)) inbox.conversations.set(summary.id, summary);
  go(inboxPath(inbox.viewOf(summary.id), summary.id, seq));
}

export function SearchScreen({ world, route }) {
  const { inbox, topics } = world;
  useTopics(topics, "agents");
  const [q, setQ] = useState(route.params.get("q") || "");
  const [agent, setAgent] = useState(route.params.get("agent") || "");
  const [results, setResults] = useState(null);
  const [error, setError] = useState("");
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);

  useEffect(() => {
    const words = q.trim();
    replace(`#/search${query({ q: words, agent })}`);
    if (!words && !agent) {
      setResults(null);
      return undefined;
    }
    let stale = false;
    const timer = setTimeout(async () => {
      try {
        const found = await api("GET", `/api/v1/search${query({ q: words, agent, limit: 30 })}`);
        if (!stale) {
          setResults(found);
          setError("");
        }
      } catch (err) {
        if (!stale) setError(err.message);
      }
    }, 150);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [q, agent]);

  const agents = [...inbox.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  return html`
    <section class="search" aria-labelledby="search-title">
      <form class="search-form" role="search" onSubmit=${(e) => e.preventDefault()}>
        <h1 id="search-title">Search</h1>
        <input ref=${input} type="search" data-testid="search-input" value=${q} placeholder="Words, a customer's name or e-mail…"
          aria-label="Search words" onInput=${(e) => setQ(e.target.value)} maxlength="200" />
        <select data-testid="search-agent" aria-label="Agent" value=${agent} onChange=${(e) => setAgent(e.target.value)}>
          <option value="">Any agent</option>
          ${agents.map((a) => html`<option key=${a.id} value=${a.id}>${a.name}</option>`)}
        </select>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${results && html`
        <div class="results" data-testid="search-results">
          ${results.conversations.length > 0 && html`
            <h2>Customers</h2>
            <ul class="hits">${results.conversations.map((c) => html`
              <li key=${c.id}><button class="hit" data-testid="search-conversation" onClick=${() => open(inbox, c)}>
                <span class="line"><strong>${customerLabel(c)}</strong><span class="muted">${c.status} · ${shortWhen(c.last_message_at || c.created_at)}</span></span>
                ${c.preview && html`<span class="snippet">${c.preview}</span>`}
              </button></li>`)}</ul>`}
          <h2>Messages</h2>
          ${results.hits.length === 0 && html`<p class="muted">${q.trim() ? "No message holds these words." : "Type words to search the messages."}</p>`}
          <ul class="hits">${results.hits.map((h) => html`
            <li key=${h.conversation.id}><button class="hit" data-testid="search-hit" data-conversation-id=${h.conversation.id}
                onClick=${() => open(inbox, h.conversation, h.seq)}>
              <span class="line"><strong>${customerLabel(h.conversation)}</strong>
                <span class="muted">${h.kind === "note" ? "note · " : ""}${h.author_type === "customer" ? "customer" : h.author_name || "agent"} · ${shortWhen(h.at)} · ${h.conversation.status}</span></span>
              <${Snippet} text=${h.snippet} />
            </button></li>`)}</ul>
        </div>`}
    </section>`;
}
