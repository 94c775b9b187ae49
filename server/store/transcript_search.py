"""Search over every transcript: SQLite FTS5 (tokenised, accents folded, ranked by bm25) with snippets.

Guarantees:
- The index is written by the transaction that stores the event (store/conversations.py
  `append`), so a message is found as soon as it is acknowledged, and never before.
- One hit per conversation, its best-ranked message; the snippet marks the matched words with
  MARK_START and MARK_END (control characters, so the console highlights them as elements and
  never parses anything as HTML).
- What a person typed never becomes query syntax: it is cut into words, each quoted.
- Reads see committed data only.
"""

from __future__ import annotations

import re

import msgspec

from server.protocol import ConversationSummary
from server.store.conversations import SUMMARY, summary_of
from server.store.db import Database, record

MARK_START = "\x02"
MARK_END = "\x03"
# unicode61 splits on everything but letters and digits; so do we, to quote each word alone.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORDS = 12


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
        """The conversations whose messages or notes hold every word, best match first."""
        expression = match_expression(words)
        if expression is None:
            return []
        params: list[object] = [expression]
        scoped = _scoped(scope, params)
        # First the best row of each conversation (bm25 for every match, nothing else); then
        # snippets and authors for the few kept: snippet() is the costly part.
        best = await self.db.fetchall(
            "SELECT s.rowid AS hit, MIN(s.rank) AS rank FROM transcript_search s"
            " JOIN conversations c ON c.id = s.conversation_id"
            f" WHERE transcript_search MATCH ?{scoped}"
            " GROUP BY s.conversation_id ORDER BY rank LIMIT ?",
            (*params, limit),
        )
        if not best:
            return []
        ranks = {int(r["hit"]): float(r["rank"]) for r in best}
        marks = ",".join("?" * len(ranks))
        rows = await self.db.fetchall(
            "SELECT s.rowid AS hit, s.conversation_id, s.seq,"
            f" snippet(transcript_search, 0, '{MARK_START}', '{MARK_END}', '…', 16) AS snippet,"
            " e.kind, e.at, e.author_type, e.author_name"
            " FROM transcript_search s JOIN events e ON e.conversation_id = s.conversation_id AND e.seq = s.seq"
            f" WHERE transcript_search MATCH ? AND s.rowid IN ({marks})",
            (expression, *ranks),
        )
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
                snippet=h.snippet,
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
