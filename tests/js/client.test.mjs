// The widget's protocol client, without a browser: cursors, dedupe, resends, backoff, terminal codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RapportClient, backoffDelay } from "../../static/widget/client.js";

class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.last = this;
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function memoryStorage() {
  const data = new Map();
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
}

function makeClient(storage = memoryStorage()) {
  const timers = [];
  const client = new RapportClient({
    url: "ws://test/ws/widget",
    WebSocketImpl: FakeSocket,
    storage,
    random: () => 0.5,
    timers: { set: (fn, ms) => timers.push({ fn, ms }), clear: () => {} },
  });
  return { client, timers, storage };
}

test("hello carries the visitor token, epoch and cursors after a reconnect", () => {
  const { client, timers } = makeClient();
  client.start();
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], { type: "hello", resume: {} });
  FakeSocket.last.receive({ type: "welcome", role: "customer", epoch: "E1", visitor_token: "V1", agents_online: true });
  FakeSocket.last.receive({ type: "event", conversation_id: "c1", seq: 3, kind: "message", text: "hi" });
  FakeSocket.last.drop();
  assert.equal(timers.length, 1);
  timers[0].fn();
  FakeSocket.last.open();
  assert.deepEqual(FakeSocket.last.sent[0], { type: "hello", resume: { c1: 3 }, visitor_token: "V1", epoch: "E1" });
});

test("events already seen are not applied twice", () => {
  const { client } = makeClient();
  const seen = [];
  client.on("event", (e) => seen.push(e.seq));
  client.start();
  FakeSocket.last.open();
  for (const seq of [1, 2, 2, 1, 3]) FakeSocket.last.receive({ type: "event", conversation_id: "c", seq, kind: "message" });
  assert.deepEqual(seen, [1, 2, 3]);
});

test("unacknowledged messages are resent with the same client id, and kept across a reload", () => {
  const storage = memoryStorage();
  const { client, timers } = makeClient(storage);
  client.start();
  FakeSocket.last.open();
  const id = client.sendMessage("where is my order?", "c1");
  assert.equal(FakeSocket.last.sent[1].client_id, id);
  FakeSocket.last.drop();
  timers[0].fn();
  FakeSocket.last.open();
  FakeSocket.last.receive({ type: "welcome", epoch: "E", agents_online: false });
  const resent = FakeSocket.last.sent.filter((f) => f.type === "message.send");
  assert.deepEqual(resent.map((f) => f.client_id), [id]);
  // A reload (a new client on the same storage) still holds it until the ack.
  const again = makeClient(storage).client;
  assert.deepEqual([...again.pending.keys()], [id]);
  FakeSocket.last.receive({ type: "ack", client_id: id, conversation_id: "c1", seq: 4 });
  assert.equal(client.pending.size, 0);
});

test("a permanent error drops the pending frame, a rate limit keeps it", () => {
  const { client } = makeClient();
  client.start();
  FakeSocket.last.open();
  const tooLong = client.sendMessage("x", "c1");
  const limited = client.sendMessage("y", "c1");
  FakeSocket.last.receive({ type: "error", code: "too_long", message: "long", client_id: tooLong });
  FakeSocket.last.receive({ type: "error", code: "rate_limited", message: "slow", client_id: limited });
  assert.deepEqual([...client.pending.keys()], [limited]);
});

test("a reset replaces the cursor with the snapshot's end", () => {
  const { client } = makeClient();
  client.start();
  FakeSocket.last.open();
  FakeSocket.last.receive({ type: "event", conversation_id: "c", seq: 9, kind: "message" });
  FakeSocket.last.receive({ type: "reset", conversation: { id: "c" }, epoch: "E2", events: [{ seq: 4 }, { seq: 5 }] });
  assert.equal(client.cursors.c, 5);
});

test("terminal close codes stop reconnecting; others back off with jitter", () => {
  const { client, timers } = makeClient();
  const terminal = [];
  client.on("terminal", (t) => terminal.push(t.code));
  client.start();
  FakeSocket.last.open();
  FakeSocket.last.drop(4500);
  assert.deepEqual(terminal, [4500]);
  assert.equal(timers.length, 0);
  assert.equal(backoffDelay(0, () => 0.999), 499);
  assert.equal(backoffDelay(10, () => 0.999), 14985);
  assert.equal(backoffDelay(3, () => 0), 0);
});

test("notifications already seen are skipped", () => {
  const { client } = makeClient();
  const got = [];
  client.on("notification", (n) => got.push(n.seq));
  client.start();
  FakeSocket.last.open();
  for (const seq of [1, 2, 2, 3]) FakeSocket.last.receive({ type: "notification", seq, kind: "offer" });
  assert.deepEqual(got, [1, 2, 3]);
});
