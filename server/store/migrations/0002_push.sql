-- Push engine: what the shop knows of its customers and their consent, API keys for the shop's
-- back end, each customer's numbered notification stream (the inbox), segments, campaigns,
-- e-vouchers, personal reminders, and tracking of what happened to each notification.
ALTER TABLE customers ADD COLUMN loyalty_points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN tier TEXT;
ALTER TABLE customers ADD COLUMN birthday TEXT;
ALTER TABLE customers ADD COLUMN last_order_at INTEGER;
ALTER TABLE customers ADD COLUMN total_spent REAL NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE customers ADD COLUMN marketing_consent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN consent_changed_at INTEGER;
ALTER TABLE customers ADD COLUMN consent_source TEXT;
ALTER TABLE customers ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE customers ADD COLUMN locale TEXT;
ALTER TABLE customers ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN updated_at INTEGER;

-- Keys the shop's back end calls the API with. Only a SHA-256 of the secret part is kept:
-- the secret is 256 random bits, so a slow hash would add nothing but latency.
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);

-- A customer's notification stream: order updates, offers, news, reminders. Numbered per
-- customer in the transaction that stores them, like conversation events.
CREATE TABLE notifications (
  customer_id  TEXT NOT NULL REFERENCES customers (id),
  seq          INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  marketing    INTEGER NOT NULL,
  campaign_id  TEXT,
  -- exactly once: one row per (customer, campaign) or (customer, reminder firing), etc.
  dedupe_key   TEXT,
  title        TEXT NOT NULL,
  body         TEXT NOT NULL,
  url          TEXT,
  data         TEXT NOT NULL DEFAULT '{}',
  voucher_code TEXT,
  expires_at   INTEGER,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (customer_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX notifications_dedupe ON notifications (customer_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX notifications_campaign ON notifications (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX notifications_day ON notifications (customer_id, marketing, created_at);

CREATE TABLE notification_actions (
  customer_id TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  action      TEXT NOT NULL CHECK (action IN ('delivered', 'opened', 'clicked', 'dismissed', 'redeemed')),
  campaign_id TEXT,
  at          INTEGER NOT NULL,
  PRIMARY KEY (customer_id, seq, action)
) WITHOUT ROWID;
CREATE INDEX notification_actions_campaign ON notification_actions (campaign_id, action) WHERE campaign_id IS NOT NULL;

CREATE TABLE segments (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  rules      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE campaigns (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'active', 'stopped')),
  audience       TEXT NOT NULL,
  title_template TEXT NOT NULL,
  body_template  TEXT NOT NULL,
  url            TEXT,
  voucher        TEXT,
  trigger        TEXT,
  send_at        INTEGER,
  started_at     INTEGER,
  expires_at     INTEGER,
  created_by     TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX campaigns_status ON campaigns (status, send_at);

CREATE TABLE vouchers (
  code           TEXT PRIMARY KEY,
  customer_id    TEXT NOT NULL REFERENCES customers (id),
  campaign_id    TEXT,
  kind           TEXT NOT NULL CHECK (kind IN ('amount', 'percent')),
  amount         REAL NOT NULL,
  currency       TEXT,
  expires_at     INTEGER,
  created_at     INTEGER NOT NULL,
  redeemed_at    INTEGER,
  redeemed_order TEXT
);
CREATE INDEX vouchers_customer ON vouchers (customer_id);
CREATE UNIQUE INDEX vouchers_campaign_customer ON vouchers (campaign_id, customer_id) WHERE campaign_id IS NOT NULL;

CREATE TABLE reminders (
  id            TEXT PRIMARY KEY,
  customer_id   TEXT NOT NULL REFERENCES customers (id),
  name          TEXT NOT NULL,
  month         INTEGER NOT NULL,
  day           INTEGER NOT NULL,
  year          INTEGER,
  local_time    TEXT NOT NULL DEFAULT '09:00',
  repeat        TEXT NOT NULL CHECK (repeat IN ('yearly', 'once')),
  title         TEXT NOT NULL,
  body          TEXT NOT NULL,
  next_fire_at  INTEGER,
  last_fired_at INTEGER,
  created_at    INTEGER NOT NULL
);
CREATE INDEX reminders_due ON reminders (next_fire_at) WHERE next_fire_at IS NOT NULL;
