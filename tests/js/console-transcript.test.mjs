// The console's transcript model, without a browser: order, replays, history pages, edits, reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Transcript } from "../../agent_console/state/transcript.js";

const message = (seq, text, extra = {}) => ({ seq, kind: "message", text, author_type: "customer", at: seq, ...extra });

test("events are held in seq order whatever order they come in, each once", () => {
  const t = new Transcript("c1");
  for (const seq of [5, 6, 7]) assert.equal(t.add(message(seq, `m${seq}`)), true);
  assert.equal(t.add(message(6, "m6 again")), false); // a replay overlap
  for (const seq of [2, 1, 4, 3]) t.add(message(seq, `m${seq}`)); // an older history page
  assert.deepEqual(t.items.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(t.items[5].text, "m6");
  assert.equal(t.complete, true);
  assert.deepEqual([t.lowest, t.highest], [1, 7]);
});

test("edits, read receipts and pending sends are kept beside the shown events", () => {
  const t = new Transcript("c1");
  t.add(message(1, "hello"));
  t.add(message(2, "Hi, hw can I help?", { author_type: "agent", author_id: "a1", client_id: "x1" }));
  t.pending.set("x2", { text: "one more", private: false, failed: null });
  t.add({ seq: 3, kind: "edit", text: "Hi, how can I help?", target_seq: 2, author_type: "agent" });
  t.add({ seq: 4, kind: "read", target_seq: 2, author_type: "customer" });
  t.add(message(5, "one more", { author_type: "agent", author_id: "a1", client_id: "x2" }));
  assert.deepEqual(t.items.map((e) => e.seq), [1, 2, 5]); // edits and reads are not lines
  assert.equal(t.edits.get(2).text, "Hi, how can I help?");
  assert.equal(t.customerRead, 2);
  assert.equal(t.pending.size, 0); // stored: no longer pending
  assert.equal(t.lastOwn("a1").seq, 5);
  assert.equal(t.lastCustomerMessage().seq, 1);
});

test("a reset replaces everything held", () => {
  const t = new Transcript("c1");
  for (const seq of [1, 2, 3]) t.add(message(seq, `m${seq}`));
  t.reset([message(40, "m40"), message(41, "m41")]);
  assert.deepEqual(t.items.map((e) => e.seq), [40, 41]);
  assert.equal(t.complete, false);
  assert.equal(t.add(message(2, "old")), true); // older history can be read again after a reset
});
