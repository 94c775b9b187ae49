-- The marketer's studio (issue 11): campaigns may be paused and resumed (a status the old CHECK
-- refused, so the table is rebuilt), carry a consent class (marketing needs consent,
-- transactional does not), a frequency cap of their own, a yearly date per customer (a birthday
-- greeting), and the campaign they were copied from. Customers a campaign held back (past a cap)
-- are remembered for its results; indexes for its live counts and the greetings of the day.
CREATE TABLE campaigns_0010 (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'stopped')),
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
  updated_at     INTEGER NOT NULL,
  email_after    INTEGER,
  email_cursor   TEXT,
  email_done_at  INTEGER,
  survey         TEXT,
  consent        TEXT NOT NULL DEFAULT 'marketing' CHECK (consent IN ('marketing', 'transactional')),
  frequency_cap  TEXT,
  recurring      TEXT,
  paused_at      INTEGER,
  copied_from    TEXT
);
INSERT INTO campaigns_0010 (id, name, kind, status, audience, title_template, body_template, url, voucher, trigger,
                            send_at, started_at, expires_at, created_by, created_at, updated_at, email_after,
                            email_cursor, email_done_at, survey)
SELECT id, name, kind, status, audience, title_template, body_template, url, voucher, trigger,
       send_at, started_at, expires_at, created_by, created_at, updated_at, email_after,
       email_cursor, email_done_at, survey
FROM campaigns;
DROP TABLE campaigns;
ALTER TABLE campaigns_0010 RENAME TO campaigns;
CREATE INDEX campaigns_status ON campaigns (status, send_at);
CREATE INDEX campaigns_email_due ON campaigns (email_after) WHERE email_after IS NOT NULL AND email_done_at IS NULL;
CREATE INDEX campaigns_created ON campaigns (created_at);

-- Who a campaign could not reach, and why (today only 'frequency_cap': no consent and expiry
-- are read from the customers and the campaign). One row per customer: the first reason stays.
CREATE TABLE campaign_holds (
  campaign_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  reason      TEXT NOT NULL CHECK (reason IN ('frequency_cap')),
  at          INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, customer_id)
) WITHOUT ROWID;

-- A campaign's results over time: its notifications and their actions by time.
CREATE INDEX notifications_campaign_time ON notifications (campaign_id, created_at) WHERE campaign_id IS NOT NULL;
CREATE INDEX notification_actions_campaign_time ON notification_actions (campaign_id, at) WHERE campaign_id IS NOT NULL;

-- The day's greetings: customers whose birthday (YYYY-MM-DD) falls on a month and day.
CREATE INDEX customers_birthday_day ON customers (substr(birthday, 6, 5)) WHERE birthday IS NOT NULL;
