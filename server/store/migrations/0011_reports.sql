-- The studio: support reports read one narrow row per conversation, kept by the write path
-- (store/conversations.py create and append call store/support_report.py in the transaction that
-- stores the event), so a report over a period reads an index range, never the events.
--   opened_at          the conversation's creation
--   first_customer_at  the customer's first public message
--   first_response_at  the first public agent message after it (private notes never count)
--   responder_id       the agent who wrote that reply
--   agent_id           the agent who has (or last had) the conversation, set by assignment
--   closed_at          the latest close, cleared again when it is reopened
--   rating             the shopper's satisfaction score (1 to 5), the latest one given
CREATE TABLE support_stats (
  conversation_id   TEXT PRIMARY KEY,
  opened_at         INTEGER NOT NULL,
  first_customer_at INTEGER,
  first_response_at INTEGER,
  responder_id      TEXT,
  agent_id          TEXT,
  closed_at         INTEGER,
  rating            INTEGER
) WITHOUT ROWID;
-- Covering: a period's report is one range scan of this index.
CREATE INDEX support_stats_opened ON support_stats
  (opened_at, first_customer_at, first_response_at, responder_id, agent_id, closed_at, rating);

INSERT INTO support_stats (conversation_id, opened_at, agent_id, rating, first_customer_at, closed_at)
  SELECT c.id, c.created_at, c.agent_id, c.rating,
         (SELECT MIN(e.at) FROM events e
          WHERE e.conversation_id = c.id AND e.kind = 'message' AND e.author_type = 'customer'),
         CASE WHEN c.status = 'closed' THEN
           (SELECT MAX(e.at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'status' AND e.status = 'closed')
         END
  FROM conversations c;
UPDATE support_stats SET
  first_response_at = (
    SELECT e.at FROM events e
    WHERE e.conversation_id = support_stats.conversation_id AND e.kind = 'message' AND e.author_type = 'agent'
      AND e.private = 0 AND e.seq > (SELECT MIN(f.seq) FROM events f WHERE f.conversation_id = e.conversation_id
                                     AND f.kind = 'message' AND f.author_type = 'customer')
    ORDER BY e.seq LIMIT 1),
  responder_id = (
    SELECT e.author_id FROM events e
    WHERE e.conversation_id = support_stats.conversation_id AND e.kind = 'message' AND e.author_type = 'agent'
      AND e.private = 0 AND e.seq > (SELECT MIN(f.seq) FROM events f WHERE f.conversation_id = e.conversation_id
                                     AND f.kind = 'message' AND f.author_type = 'customer')
    ORDER BY e.seq LIMIT 1)
  WHERE first_customer_at IS NOT NULL;
