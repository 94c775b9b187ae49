-- Console sessions held by the server: logging out, changing a password or deactivating an
-- agent ends them at once (a signed cookie alone stays valid until it expires).
CREATE TABLE agent_sessions (
  id         TEXT PRIMARY KEY,
  agent_id   TEXT NOT NULL REFERENCES agents (id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ended_at   INTEGER
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- Login attempts, reserved before a password is checked and forgotten when it was right, so
-- the limits (per account, per trusted device, per address) hold against concurrent guesses
-- and across every process. Replaces login_failures, which counted only after the hash.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
  id  INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  at  INTEGER NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts (key, at);
CREATE INDEX login_attempts_at ON login_attempts (at);

-- Things that are limited per window across every process: new conversations per visitor, per
-- address and for the whole shop. One row per occurrence; rows older than the longest window go.
CREATE TABLE limited_actions (
  key TEXT NOT NULL,
  at  INTEGER NOT NULL
);
CREATE INDEX limited_actions_key ON limited_actions (key, at);
CREATE INDEX limited_actions_at ON limited_actions (at);
