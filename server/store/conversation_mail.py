"""Each conversation's e-mail state, and the decisions that queue its mail: offline replies, agent
alerts, transcripts, and the thread's Message-IDs.

Guarantees:
- Every `mail_*` method finds its work and writes both the mails (store/mail_queue.py `add`) and
  the state that says they were decided (`mailed_seq`, `alerted_seq`, the transcript wish) in one
  write transaction: of several processes running the same job, each reply batch, alert and
  transcript is queued once. The conditions are checked again inside that transaction, so what
  a reader saw a moment before (the `candidates` reads) cannot make a stale decision.
- What to write in a mail is decided by the mail service (a plan, a pure function called on the
  writer thread inside the transaction: it must not raise, block or await); this module only
  finds the facts and executes.
- `stamp_seen` records when customers were last connected, per customer; a later stamp never
  goes back in time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from server.store.db import Database, Tx, record, records
from server.store.mail_queue import NewMail, add

# How far back conversations are looked at for unmailed replies (older ones stay unmailed).
_HORIZON_MS = 2 * 86_400_000
# Most conversations one job run decides on: one transaction must not hold the write lock long.
_LIMIT = 50
_TRANSCRIPT_EVENTS = 500


class ChatLine(msgspec.Struct, frozen=True):
    """One public message of a conversation, as a mail quotes it."""

    seq: int
    author_type: str
    author_name: str | None
    text: str
    at: int


class ReplyThread(msgspec.Struct):
    """A conversation with agents' replies not yet mailed: who to, and the thread so far."""

    conversation_id: str
    customer_id: str
    customer_name: str | None
    address: str
    mailed_seq: int
    read_seq: int
    thread_refs: str
    seen_at: int | None
    customer_wrote_at: int | None
    last_reply_at: int | None


class WaitingMessage(msgspec.Struct):
    """A customer's message no agent answered: the conversation and whom to alert."""

    conversation_id: str
    customer_id: str
    customer_name: str | None
    agent_id: str | None
    seq: int
    text: str
    at: int


class AgentAddress(msgspec.Struct, frozen=True):
    id: str
    name: str
    email: str


class TranscriptDue(msgspec.Struct):
    conversation_id: str
    customer_id: str
    customer_name: str | None
    address: str
    last_seq: int
    thread_refs: str


_LINES = (
    "SELECT seq, author_type, author_name, text, at FROM events"
    " WHERE conversation_id = ? AND kind = 'message' AND private = 0"
)

_REPLY_THREADS = """
SELECT c.id AS conversation_id, c.customer_id, cu.name AS customer_name,
       COALESCE(c.contact_email, cu.email) AS address,
       COALESCE(m.mailed_seq, 0) AS mailed_seq, COALESCE(m.thread_refs, '') AS thread_refs,
       (SELECT COALESCE(MAX(r.target_seq), 0) FROM events r
        WHERE r.conversation_id = c.id AND r.kind = 'read' AND r.author_type = 'customer') AS read_seq,
       (SELECT MAX(w.at) FROM events w
        WHERE w.conversation_id = c.id AND w.kind = 'message' AND w.author_type = 'customer') AS customer_wrote_at,
       s.at AS seen_at,
       (SELECT MAX(e.at) FROM events e WHERE e.conversation_id = c.id AND e.seq > COALESCE(m.mailed_seq, 0)
        AND e.kind = 'message' AND e.author_type = 'agent' AND e.private = 0) AS last_reply_at
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN conversation_mail m ON m.conversation_id = c.id
LEFT JOIN customer_seen s ON s.customer_id = c.customer_id
WHERE c.updated_at >= ? AND COALESCE(c.contact_email, cu.email) IS NOT NULL
"""
# Conversations with agents' replies not mailed yet, the newest written before the batch window
# (the agent stopped writing), whose customer was last here (connected, or writing) before the
# delay. Their replies may have been read on the site: the job looks at the read receipts.
_DUE_THREADS = f"""
SELECT * FROM ({_REPLY_THREADS}) WHERE last_reply_at IS NOT NULL AND last_reply_at <= ?
  AND MAX(COALESCE(seen_at, 0), COALESCE(customer_wrote_at, 0)) <= ?
"""

_WAITING = """
SELECT c.id AS conversation_id, c.customer_id, cu.name AS customer_name, c.agent_id,
       last.seq, last.text, last.at
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN conversation_mail m ON m.conversation_id = c.id
JOIN events last ON last.conversation_id = c.id
 AND last.seq = (SELECT MAX(e.seq) FROM events e
                 WHERE e.conversation_id = c.id AND e.kind = 'message' AND e.private = 0)
WHERE c.status IN ('waiting', 'assigned') AND last.author_type = 'customer' AND last.at <= ?
  AND last.seq > COALESCE(m.alerted_seq, 0)
  AND NOT EXISTS (SELECT 1 FROM agent_presence p WHERE p.status = 'online' AND p.heartbeat_at >= ?)
"""

_TRANSCRIPTS = """
SELECT c.id AS conversation_id, c.customer_id, cu.name AS customer_name,
       COALESCE(c.contact_email, cu.email) AS address, c.last_seq, m.thread_refs
FROM conversation_mail m JOIN conversations c ON c.id = m.conversation_id JOIN customers cu ON cu.id = c.customer_id
WHERE m.transcript_wanted = 1 AND c.status = 'closed' AND COALESCE(c.contact_email, cu.email) IS NOT NULL
"""

_UPSERT = """
INSERT INTO conversation_mail (conversation_id) VALUES (?) ON CONFLICT (conversation_id) DO NOTHING
"""

# What a job's plan decides for one conversation: the mails to queue (none: nothing to say).
ReplyPlan = Callable[[ReplyThread, list[ChatLine]], NewMail | None]
AlertPlan = Callable[[WaitingMessage, list[AgentAddress]], list[NewMail]]
TranscriptPlan = Callable[[TranscriptDue, list[ChatLine]], NewMail | None]


def _refs_with(refs: str, message_id: str) -> str:
    return f"{refs} {message_id}".strip()


class ConversationMailStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -------------------------------------------------------------- offline replies

    async def reply_candidates(self, now: int, *, gone_before: int, quiet_before: int) -> bool:
        """Whether any conversation may hold replies to mail (a cheap read before a write)."""
        row = await self.db.fetchone(f"{_DUE_THREADS} LIMIT 1", (now - _HORIZON_MS, quiet_before, gone_before))
        return row is not None

    async def mail_offline_replies(self, now: int, *, gone_before: int, quiet_before: int, plan: ReplyPlan) -> int:
        """Queue one mail per conversation whose customer has been away since `gone_before` and
        whose unread agent replies (the newest written before `quiet_before`) were not mailed;
        the replies are marked mailed with it. How many mails were queued."""

        def work(tx: Tx) -> int:
            queued = 0
            params = (now - _HORIZON_MS, quiet_before, gone_before, _LIMIT)
            rows = tx.execute(f"{_DUE_THREADS} LIMIT ?", params).fetchall()
            for thread in records(rows, ReplyThread):
                done = max(thread.mailed_seq, thread.read_seq)
                unread = records(
                    tx.execute(
                        f"{_LINES} AND seq > ? AND author_type = 'agent' ORDER BY seq", (thread.conversation_id, done)
                    ),
                    ChatLine,
                )
                if not unread:
                    # Everything was read on the site: nothing to mail, and no need to look again.
                    _mark(tx, thread.conversation_id, "mailed_seq", done)
                    continue
                mail = plan(thread, unread)
                # Marked mailed either way: a plan that finds nothing to send (an address we do
                # not send to) is not asked again about the same replies.
                _mark(tx, thread.conversation_id, "mailed_seq", unread[-1].seq)
                if mail is None:
                    continue
                queued += add(tx, [mail])
                tx.execute(
                    "UPDATE conversation_mail SET thread_refs = ? WHERE conversation_id = ?",
                    (_refs_with(thread.thread_refs, mail.message_id), thread.conversation_id),
                )
            return queued

        return await self.db.write(work)

    # -------------------------------------------------------------- agent alerts

    async def waiting_candidates(self, *, written_before: int, online_since: int) -> bool:
        row = await self.db.fetchone(f"{_WAITING} LIMIT 1", (written_before, online_since))
        return row is not None

    async def mail_agent_alerts(self, *, written_before: int, online_since: int, plan: AlertPlan) -> int:
        """Queue alerts for customers' messages waiting unanswered since `written_before` while no
        agent has been online since `online_since`: to the assigned agent, or to every agent."""

        def work(tx: Tx) -> int:
            queued = 0
            rows = tx.execute(f"{_WAITING} LIMIT ?", (written_before, online_since, _LIMIT)).fetchall()
            for waiting in records(rows, WaitingMessage):
                agents = _agents(tx, waiting.agent_id)
                queued += add(tx, plan(waiting, agents))
                _mark(tx, waiting.conversation_id, "alerted_seq", waiting.seq)
            return queued

        return await self.db.write(work)

    # -------------------------------------------------------------- transcripts

    async def want_transcript(self, conversation_id: str, contact_email: str | None) -> str | None:
        """Note the wish (sent when the conversation is closed, at once if it is); with
        `contact_email`, that is the conversation's address from now on. The address it will go
        to; None when there is none (nothing is changed then)."""

        def work(tx: Tx) -> str | None:
            if contact_email is not None:
                tx.execute("UPDATE conversations SET contact_email = ? WHERE id = ?", (contact_email, conversation_id))
            row = tx.execute(
                "SELECT COALESCE(c.contact_email, cu.email) FROM conversations c"
                " JOIN customers cu ON cu.id = c.customer_id WHERE c.id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None or row[0] is None:
                return None
            tx.execute(_UPSERT, (conversation_id,))
            tx.execute(
                "UPDATE conversation_mail SET transcript_wanted = 1 WHERE conversation_id = ?", (conversation_id,)
            )
            return str(row[0])

        return await self.db.write(work)

    async def transcript_candidates(self) -> bool:
        return await self.db.fetchone(f"{_TRANSCRIPTS} LIMIT 1") is not None

    async def mail_transcripts(self, plan: TranscriptPlan) -> int:
        """Queue the transcript of every closed conversation whose customer asked for it."""

        def work(tx: Tx) -> int:
            queued = 0
            for due in records(tx.execute(f"{_TRANSCRIPTS} LIMIT ?", (_LIMIT,)).fetchall(), TranscriptDue):
                lines = records(
                    tx.execute(f"{_LINES} ORDER BY seq LIMIT ?", (due.conversation_id, _TRANSCRIPT_EVENTS)), ChatLine
                )
                mail = plan(due, lines)
                if mail is not None:
                    queued += add(tx, [mail])
                    tx.execute(
                        "UPDATE conversation_mail SET thread_refs = ? WHERE conversation_id = ?",
                        (_refs_with(due.thread_refs, mail.message_id), due.conversation_id),
                    )
                tx.execute(
                    "UPDATE conversation_mail SET transcript_wanted = 0, transcript_sent_seq = ?"
                    " WHERE conversation_id = ?",
                    (due.last_seq, due.conversation_id),
                )
            return queued

        return await self.db.write(work)

    # -------------------------------------------------------------- threads and addresses

    async def set_contact(self, conversation_id: str, contact_email: str) -> bool:
        return (
            await self.db.run(
                "UPDATE conversations SET contact_email = ? WHERE id = ?", (contact_email, conversation_id)
            )
            > 0
        )

    async def add_to_thread(self, conversation_id: str, message_id: str) -> None:
        """A customer's reply joins the thread: the next mail answers it (In-Reply-To)."""

        def work(tx: Tx) -> None:
            tx.execute(_UPSERT, (conversation_id,))
            row = tx.execute(
                "SELECT thread_refs FROM conversation_mail WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            refs = str(row[0]) if row else ""
            if message_id not in refs.split():
                tx.execute(
                    "UPDATE conversation_mail SET thread_refs = ? WHERE conversation_id = ?",
                    (_refs_with(refs, message_id), conversation_id),
                )

        await self.db.write(work)

    async def thread(self, conversation_id: str) -> ThreadOf | None:
        row = await self.db.fetchone(
            "SELECT c.id AS conversation_id, c.customer_id, c.status FROM conversations c WHERE c.id = ?",
            (conversation_id,),
        )
        return record(row, ThreadOf) if row else None

    async def stamp_seen(self, customer_ids: Sequence[str], at: int) -> None:
        """These customers had a socket open at `at`."""
        if not customer_ids:
            return
        rows = [(cid, at) for cid in customer_ids]

        def work(tx: Tx) -> None:
            tx.executemany(
                "INSERT INTO customer_seen (customer_id, at) VALUES (?, ?)"
                " ON CONFLICT (customer_id) DO UPDATE SET at = MAX(at, excluded.at)",
                rows,
            )

        await self.db.write(work)


class ThreadOf(msgspec.Struct):
    """Whose conversation a reply address names, as it stands now."""

    conversation_id: str
    customer_id: str
    status: str


def _mark(tx: Tx, conversation_id: str, column: str, seq: int) -> None:
    # `column` is one of this module's names, never input.
    tx.execute(_UPSERT, (conversation_id,))
    tx.execute(
        f"UPDATE conversation_mail SET {column} = MAX({column}, ?) WHERE conversation_id = ?", (seq, conversation_id)
    )


def _agents(tx: Tx, assigned: str | None) -> list[AgentAddress]:
    """The assigned agent if they can still answer, else every agent who can."""
    base = "SELECT id, name, email FROM agents WHERE disabled = 0 AND role IN ('agent', 'admin')"
    if assigned is not None:
        found = records(tx.execute(f"{base} AND id = ?", (assigned,)).fetchall(), AgentAddress)
        if found:
            return found
    return records(tx.execute(f"{base} ORDER BY email").fetchall(), AgentAddress)
