-- What the widget adds: the contact a visitor leaves on a conversation (offline and pre-chat
-- forms; their own word, not the shop's: contact_email is 0007's, which the e-mail replies use),
-- their wish for a transcript, the satisfaction survey after a chat (also kept as a `rating`
-- event with its score), survey campaigns' questions and their answers, one set per customer.
ALTER TABLE conversations ADD COLUMN contact_name TEXT;
ALTER TABLE conversations ADD COLUMN transcript_wanted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN rating INTEGER;
ALTER TABLE conversations ADD COLUMN rating_comment TEXT;
ALTER TABLE conversations ADD COLUMN rated_at INTEGER;
ALTER TABLE events ADD COLUMN score INTEGER;

-- A survey campaign's questions (JSON of push/surveys.py's Survey).
ALTER TABLE campaigns ADD COLUMN survey TEXT;

-- One set of answers per customer and survey campaign: the primary key settles a race.
CREATE TABLE survey_answers (
  campaign_id TEXT NOT NULL,
  customer_id TEXT NOT NULL REFERENCES customers (id),
  seq         INTEGER NOT NULL,
  client_id   TEXT NOT NULL,
  answers     TEXT NOT NULL,
  at          INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, customer_id)
) WITHOUT ROWID;

-- A customer's orders are read from their order notifications (the latest status of each).
CREATE INDEX notifications_orders ON notifications (customer_id, seq) WHERE kind = 'order';
