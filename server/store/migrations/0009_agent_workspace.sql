-- The agent workspace: what the console lists, shows beside a chat and finds in the history.

-- Each conversation's last message time and the customer messages no agent has read yet, kept
-- by the write path (store/conversations.py append), so inbox lists read one row per chat.
ALTER TABLE conversations ADD COLUMN last_message_at INTEGER;
ALTER TABLE conversations ADD COLUMN agent_unread INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET last_message_at = (
  SELECT MAX(e.at) FROM events e WHERE e.conversation_id = conversations.id AND e.kind = 'message'
);
UPDATE conversations SET agent_unread = (
  SELECT COUNT(*) FROM events e
  WHERE e.conversation_id = conversations.id AND e.kind = 'message' AND e.author_type = 'customer'
    AND e.seq > (SELECT COALESCE(MAX(r.target_seq), 0) FROM events r
                 WHERE r.conversation_id = conversations.id AND r.kind = 'read' AND r.author_type = 'agent')
);
-- The Closed view, newest first; All open by last activity.
CREATE INDEX conversations_recent ON conversations (status, updated_at);

-- `assigned` events name the agent who takes over (the author is whoever assigned it): the
-- shopper's widget says who joined, also after a transfer.
ALTER TABLE events ADD COLUMN agent_name TEXT;
UPDATE events SET agent_name = (SELECT a.name FROM agents a WHERE a.id = events.agent_id) WHERE kind = 'assigned';

-- Every transcript's words, for search (tokenised, ranked by bm25). One row per message or note,
-- and one per edit (pointing at the message it edits: the old wording still finds it). Written
-- by the same write path as the event, in its transaction; no triggers (store/db.py splits
-- migrations on ';').
CREATE VIRTUAL TABLE transcript_search USING fts5(
  text,
  conversation_id UNINDEXED,
  seq UNINDEXED,
  tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO transcript_search (text, conversation_id, seq)
  SELECT text, conversation_id, COALESCE(target_seq, seq) FROM events
  WHERE kind IN ('message', 'note', 'edit') AND text IS NOT NULL
  ORDER BY conversation_id, seq;

-- Answers agents insert with '/': the body is a template with the campaigns' placeholders
-- (server/push/templates.py), rendered for the conversation's customer.
CREATE TABLE canned_replies (
  id         TEXT PRIMARY KEY,
  title      TEXT NOT NULL,
  shortcut   TEXT NOT NULL UNIQUE COLLATE NOCASE,
  body       TEXT NOT NULL,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- The pages a customer came through (the widget's page.view), the last few per customer
-- (RAPPORT_PAGE_VIEWS_KEPT). A visitor who never wrote has no customer record and nothing here:
-- their views wait in the process's memory until they write (server/chat/page_views.py).
CREATE TABLE page_views (
  id          INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers (id),
  url         TEXT NOT NULL,
  title       TEXT,
  at          INTEGER NOT NULL
);
CREATE INDEX page_views_customer ON page_views (customer_id, at);

