-- E-mail: the outgoing queue several processes take from, each conversation's mail state
-- (threading, what was mailed, alerts, a transcript wish), when customers were last on the site,
-- the e-mail fallback of campaigns, and an address for replies on the conversation itself.

-- The address a shopper left for this conversation (the widget's offline form, a transcript
-- request): replies reach them there even when the shop never told us who they are.
ALTER TABLE conversations ADD COLUMN contact_email TEXT;
-- The offline-reply job looks only at conversations that changed lately.
CREATE INDEX conversations_updated ON conversations (updated_at);

-- One row per mail to send. A process claims rows in a write transaction (claimed_by and a
-- lease in claim_until), so several processes never send one twice; a lease that ran out (its
-- process died) makes the row claimable again: a restart loses nothing. `context` is what the
-- template of `kind` renders, decided when the row was written; `message_id` is fixed then too,
-- so a retried mail is the same mail.
CREATE TABLE mail_queue (
  id              TEXT PRIMARY KEY,
  kind            TEXT NOT NULL,
  marketing       INTEGER NOT NULL,
  customer_id     TEXT,
  agent_id        TEXT,
  conversation_id TEXT,
  recipient       TEXT NOT NULL,
  recipient_name  TEXT,
  context         TEXT NOT NULL,
  message_id      TEXT NOT NULL UNIQUE,
  in_reply_to     TEXT,
  refs            TEXT,
  -- exactly once: one row per (reply batch), (alert, agent), (notification, customer)...
  dedupe_key      TEXT,
  status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'dead', 'suppressed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  claimed_by      TEXT,
  claim_until     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
CREATE INDEX mail_queue_due ON mail_queue (status, next_attempt_at);
CREATE UNIQUE INDEX mail_queue_dedupe ON mail_queue (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- Per conversation: agent replies up to `mailed_seq` were e-mailed (or read on the site), the
-- customer's message `alerted_seq` was announced to agents, the thread's Message-IDs (oldest
-- first) for In-Reply-To and References, and a transcript wished for when it closes.
CREATE TABLE conversation_mail (
  conversation_id     TEXT PRIMARY KEY REFERENCES conversations (id),
  mailed_seq          INTEGER NOT NULL DEFAULT 0,
  alerted_seq         INTEGER NOT NULL DEFAULT 0,
  thread_refs         TEXT NOT NULL DEFAULT '',
  transcript_wanted   INTEGER NOT NULL DEFAULT 0,
  transcript_sent_seq INTEGER
) WITHOUT ROWID;

-- When each customer was last seen with a socket open, stamped by every process for its own
-- connected customers: "gone for a while" holds across processes. A narrow table, so the stamps
-- never rewrite the wide customers rows.
CREATE TABLE customer_seen (
  customer_id TEXT PRIMARY KEY,
  at          INTEGER NOT NULL
) WITHOUT ROWID;

-- A campaign may ask for e-mail to the customers who did not see it live by `email_after`;
-- the audience is walked in the order of the shop's ids, `email_cursor` the last one done, so a
-- restart goes on where it stopped; `email_done_at` once all were considered.
ALTER TABLE campaigns ADD COLUMN email_after INTEGER;
ALTER TABLE campaigns ADD COLUMN email_cursor TEXT;
ALTER TABLE campaigns ADD COLUMN email_done_at INTEGER;
CREATE INDEX campaigns_email_due ON campaigns (email_after) WHERE email_after IS NOT NULL AND email_done_at IS NULL;

-- Order updates and reminders unseen for a while go by e-mail: found by time among the
-- transactional notifications only (campaigns' are many and never looked at here).
CREATE INDEX notifications_transactional ON notifications (kind, created_at) WHERE marketing = 0;
