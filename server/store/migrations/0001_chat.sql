-- Live-chat core: agents, customers (anonymous visitors included), conversations and their events.
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE agents (
  id              TEXT PRIMARY KEY,
  email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name            TEXT NOT NULL,
  role            TEXT NOT NULL CHECK (role IN ('agent', 'marketer', 'admin')),
  password_hash   TEXT NOT NULL,
  max_concurrent  INTEGER NOT NULL DEFAULT 5,
  -- bumped on password change or logout-everywhere: older sessions stop working
  session_version INTEGER NOT NULL DEFAULT 0,
  disabled        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL
);

-- One row per person the shop talks to. An anonymous visitor has no external_id; when they
-- log in, the shop's user id is set here (or their conversations move to the existing row).
CREATE TABLE customers (
  id          TEXT PRIMARY KEY,
  external_id TEXT UNIQUE,
  name        TEXT,
  email       TEXT,
  created_at  INTEGER NOT NULL
);

CREATE TABLE conversations (
  id            TEXT PRIMARY KEY,
  customer_id   TEXT NOT NULL REFERENCES customers (id),
  status        TEXT NOT NULL CHECK (status IN ('waiting', 'assigned', 'closed')),
  agent_id      TEXT REFERENCES agents (id),
  last_seq      INTEGER NOT NULL DEFAULT 0,
  preview       TEXT,
  waiting_since INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_id);
CREATE INDEX conversations_status ON conversations (status, waiting_since);
CREATE INDEX conversations_agent ON conversations (agent_id, status);

-- Every event of a conversation, numbered by the server in the transaction that stores it.
CREATE TABLE events (
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  seq             INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  author_type     TEXT NOT NULL,
  author_id       TEXT,
  author_name     TEXT,
  client_id       TEXT,
  text            TEXT,
  target_seq      INTEGER,
  status          TEXT,
  agent_id        TEXT,
  private         INTEGER NOT NULL DEFAULT 0,
  at              INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
-- The idempotency guard: a resent frame finds its original instead of a second row.
CREATE UNIQUE INDEX events_client_id ON events (author_type, author_id, client_id) WHERE client_id IS NOT NULL;

-- Agent presence per server process; rows whose heartbeat is older than the TTL are ignored,
-- so a crashed process cannot leave an agent "online" forever.
CREATE TABLE agent_presence (
  agent_id     TEXT NOT NULL REFERENCES agents (id),
  process_id   TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('online', 'away')),
  connections  INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, process_id)
);
