-- Voucher pools (issue 11): vouchers a marketer issues to a segment outside any campaign, with
-- codes Rapport draws or codes imported from elsewhere.

CREATE TABLE voucher_pools (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE,
  kind             TEXT NOT NULL CHECK (kind IN ('amount', 'percent')),
  amount           REAL NOT NULL,
  currency         TEXT,
  expires_at       INTEGER,
  one_per_customer INTEGER NOT NULL,
  source           TEXT NOT NULL CHECK (source IN ('generated', 'imported')),
  created_by       TEXT,
  created_at       INTEGER NOT NULL
);

-- An issued pool code is a voucher like a campaign's: one redemption path for both.
ALTER TABLE vouchers ADD COLUMN pool_id TEXT;
-- The codes page, the latest first; and the counts (issued, redeemed, expired) read from the index alone.
CREATE INDEX vouchers_pool ON vouchers (pool_id, created_at, code) WHERE pool_id IS NOT NULL;
CREATE INDEX vouchers_pool_state ON vouchers (pool_id, redeemed_at, expires_at) WHERE pool_id IS NOT NULL;

-- Imported codes not issued yet (a voucher row needs its customer): issuing moves one to vouchers.
CREATE TABLE voucher_pool_codes (
  code        TEXT PRIMARY KEY,
  pool_id     TEXT NOT NULL REFERENCES voucher_pools (id),
  imported_at INTEGER NOT NULL
);
CREATE INDEX voucher_pool_codes_pool ON voucher_pool_codes (pool_id, code);

-- One issue of a pool to a segment, run in batches: its progress is here so any process can report it.
CREATE TABLE voucher_pool_issues (
  id            TEXT PRIMARY KEY,
  pool_id       TEXT NOT NULL REFERENCES voucher_pools (id),
  segment_id    TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  members       INTEGER NOT NULL DEFAULT 0,
  issued        INTEGER NOT NULL DEFAULT 0,
  already_held  INTEGER NOT NULL DEFAULT 0,
  no_consent    INTEGER NOT NULL DEFAULT 0,
  no_code       INTEGER NOT NULL DEFAULT 0,
  last_customer TEXT NOT NULL DEFAULT '',
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER
);
CREATE INDEX voucher_pool_issues_pool ON voucher_pool_issues (pool_id, started_at);
