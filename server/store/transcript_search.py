"""Search over every transcript: SQLite FTS5 (tokenised, accents folded, ranked by bm25) with snippets.

Guarantees:
- The index is written by the transaction that stores the event (store/conversations.py
  `append`), so a message is found as soon as it is acknowledged, and never before.
- Ranked among the latest RECENT_MATCHES matches (the cost of ranking grows with the matches).
- One hit per conversation, its best-ranked message; the snippet marks the matched words with
  MARK_START and MARK_END (control characters, so the console highlights them as elements and
  never parses anything as HTML), folded as the index folds them (case, accents).
- What a person typed never becomes query syntax: it is cut into words, each quoted.
- Reads see committed data only.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

from server.protocol import ConversationSummary
from server.store.conversations import SUMMARY, summary_of
from server.store.db import Database, record

MARK_START = "\x02"
MARK_END = "\x03"
# unicode61 splits on everything but letters and digits; so do we, to quote each word alone.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORDS = 12
# Ranking costs per matching message: a word found in most of a shop's history would make every
# search slow. Hits are ranked among the latest RECENT_MATCHES matches (in the reader's scope),
# which keeps a search within a few tens of milliseconds whatever the word (bench/console.py),
# and favours what an agent is most likely looking for: the recent. A rarer word reaches back
# through the whole history.
RECENT_MATCHES = 5_000
# A snippet: about this many words from just before the first match, at most this long.
SNIPPET_WORDS = 24
SNIPPET_CHARS = 400
# Rows ranked to find `limit` distinct conversations (one conversation may hold many good rows).
CANDIDATES_PER_HIT = 10


class Scope(msgspec.Struct, frozen=True):
    """Which conversations a search may return: `reader` None for everyone's (admins); an agent
    id for that agent's own and the waiting queue. `assignee`: only those assigned to that agent."""

    reader: str | None = None
    assignee: str | None = None


class SearchHit(msgspec.Struct):
    """The best-ranked message of one conversation for the words searched."""

    conversation: ConversationSummary
    seq: int
    kind: str
    at: int
    author_type: str
    author_name: str | None
    snippet: str
    # bm25: lower is better (SQLite's sign); hits come best first.
    rank: float


class _Hit(msgspec.Struct):
    hit: int
    conversation_id: str
    seq: int
    snippet: str
    kind: str
    at: int
    author_type: str
    author_name: str | None


def match_expression(words: str) -> str | None:
    """The FTS5 query for what a person typed: every word must appear (quoted, so `AND`, `*` or
    `"` are words, not syntax); the last may be half typed. None when there is no word."""
    found = _WORD.findall(words)[:MAX_WORDS]
    if not found:
        return None
    quoted = [f'"{word}"' for word in found]
    quoted[-1] += "*"
    return " ".join(quoted)


def _fold(word: str) -> str:
    """A word as the index compares it: lower case, accents dropped (unicode61 remove_diacritics)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def snippet(text: str, words: list[str], around: int = SNIPPET_WORDS) -> str:
    """`text` cut to about `around` words from just before the first match, every matched word
    between MARK_START and MARK_END (the last search word matches as a prefix, as in the query)."""
    wanted = [_fold(w) for w in words]
    if not wanted:
        return text[:SNIPPET_CHARS]
    last = wanted[-1]
    exact = set(wanted[:-1])

    def matches(token: str) -> bool:
        folded = _fold(token)
        return folded in exact or folded.startswith(last)

    tokens = list(_WORD.finditer(text))
    first = next((i for i, t in enumerate(tokens) if matches(t.group())), 0)
    start_token = max(0, first - 3)
    end_token = min(len(tokens), start_token + around)
    if not tokens:
        return text[:SNIPPET_CHARS]
    begin = 0 if start_token == 0 else tokens[start_token].start()
    end = len(text) if end_token == len(tokens) else tokens[end_token - 1].end()
    out = ["…" if begin > 0 else ""]
    cursor = begin
    for token in tokens[start_token:end_token]:
        out.append(text[cursor : token.start()])
        out.append(f"{MARK_START}{token.group()}{MARK_END}" if matches(token.group()) else token.group())
        cursor = token.end()
    out.append(text[cursor:end])
    if end < len(text):
        out.append("…")
    return "".join(out)[: SNIPPET_CHARS + 4 * len(wanted) * 2]


def like_pattern(text: str) -> str:
    """A LIKE pattern for `text` anywhere, with the wildcards of what a person typed escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _scoped(scope: Scope, params: list[object]) -> str:
    clauses = []
    if scope.reader is not None:
        clauses.append("(c.agent_id = ? OR c.status = 'waiting')")
        params.append(scope.reader)
    if scope.assignee is not None:
        clauses.append("c.agent_id = ?")
        params.append(scope.assignee)
    return "".join(f" AND {clause}" for clause in clauses)


class TranscriptSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def messages(self, words: str, scope: Scope, limit: int) -> list[SearchHit]:
        """The conversations whose messages or notes hold every word, best match first (ranked among
        the RECENT_MATCHES latest matches: see there)."""
        expression = match_expression(words)
        if expression is None:
            return []
        params: list[object] = []
        scoped = _scoped(scope, params)
        within = f" AND s.conversation_id IN (SELECT c.id FROM conversations c WHERE 1 = 1{scoped})" if scoped else ""
        # The window: where the latest RECENT_MATCHES matches start (walking the index backwards
        # costs a few milliseconds, ranking costs per match).
        floor = await self.db.fetchone(
            "SELECT MIN(hit) AS floor FROM (SELECT s.rowid AS hit FROM transcript_search s"
            f" WHERE transcript_search MATCH ?{within} ORDER BY s.rowid DESC LIMIT ?)",
            (expression, *params, RECENT_MATCHES),
        )
        if floor is None or floor["floor"] is None:
            return []
        ranked = await self.db.fetchall(
            "SELECT s.rowid AS hit, s.conversation_id, s.rank AS rank FROM transcript_search s"
            f" WHERE transcript_search MATCH ? AND s.rowid >= ?{within} ORDER BY rank LIMIT ?",
            (expression, floor["floor"], *params, limit * CANDIDATES_PER_HIT),
        )
        ranks: dict[int, float] = {}
        seen: set[str] = set()
        for row in ranked:  # best first: the first row of a conversation is its best
            if row["conversation_id"] not in seen and len(ranks) < limit:
                seen.add(row["conversation_id"])
                ranks[int(row["hit"])] = float(row["rank"])
        if not ranks:
            return []
        marks = ",".join("?" * len(ranks))
        # Rows by rowid, without MATCH: FTS5's own snippet() costs about a millisecond a row (it
        # seeks each row's positions in the words' long lists); the snippet is cut here instead.
        rows = await self.db.fetchall(
            "SELECT s.rowid AS hit, s.conversation_id, s.seq, s.text AS snippet, e.kind, e.at, e.author_type,"
            " e.author_name FROM transcript_search s"
            " JOIN events e ON e.conversation_id = s.conversation_id AND e.seq = s.seq"
            f" WHERE s.rowid IN ({marks})",
            tuple(ranks),
        )
        terms = _WORD.findall(words)[:MAX_WORDS]
        hits = [record(r, _Hit) for r in rows]
        summaries = await self._summaries([h.conversation_id for h in hits])
        found = [
            SearchHit(
                conversation=summaries[h.conversation_id],
                seq=h.seq,
                kind=h.kind,
                at=h.at,
                author_type=h.author_type,
                author_name=h.author_name,
                snippet=snippet(h.snippet, terms),
                rank=ranks[h.hit],
            )
            for h in hits
            if h.conversation_id in summaries
        ]
        return sorted(found, key=lambda h: h.rank)

    async def customers(self, text: str, scope: Scope, limit: int) -> list[ConversationSummary]:
        """Conversations of customers whose name or e-mail holds `text`, the latest first; with no
        text, every conversation in scope (e.g. all of one agent's)."""
        params: list[object] = []
        where = "1 = 1"
        if text.strip():
            pattern = like_pattern(text.strip())
            where = "(cu.name LIKE ? ESCAPE '\\' OR cu.email LIKE ? ESCAPE '\\' OR cu.external_id = ?)"
            params += [pattern, pattern, text.strip()]
        scoped = _scoped(scope, params)
        rows = await self.db.fetchall(
            SUMMARY + f" WHERE {where}{scoped} ORDER BY c.updated_at DESC LIMIT ?", (*params, limit)
        )
        return [summary_of(r) for r in rows]

    async def _summaries(self, conversation_ids: list[str]) -> dict[str, ConversationSummary]:
        if not conversation_ids:
            return {}
        marks = ",".join("?" * len(conversation_ids))
        rows = await self.db.fetchall(SUMMARY + f" WHERE c.id IN ({marks})", conversation_ids)
        return {r["id"]: summary_of(r) for r in rows}
