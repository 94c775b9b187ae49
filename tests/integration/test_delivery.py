"""Nothing lost, nothing doubled: resume after gaps, idempotent resends, resets, slow consumers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.store.conversations import ConversationStore
from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings


async def _chat(server: LiveServer) -> tuple[WsClient, WsClient, str]:
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("first"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="assigned")
    await shopper.wait_type("event", conversation_id=conv, kind="assigned")
    return agent, shopper, conv


async def test_reconnect_with_a_gap_recovers_exactly_the_gap(server: LiveServer) -> None:
    agent, shopper, conv = await _chat(server)
    token, cursor = shopper.welcome["visitor_token"], shopper.last_seq(conv)
    await shopper.close()

    sent = [await agent.send_message(f"missed {i}", conv) for i in range(5)]
    await agent.send(type="message.edit", client_id="e1", conversation_id=conv, seq=sent[0]["seq"], text="missed 0!")
    await agent.wait_type("ack", client_id="e1")

    back = await server.customer(visitor_token=token, resume={conv: cursor}, epoch=shopper.welcome["epoch"])
    resumed = await back.wait_type("resumed", conversation_id=conv)
    replay = back.events(conv)
    seqs = [e["seq"] for e in replay]
    assert seqs == list(range(cursor + 1, resumed["seq"] + 1)), "exactly the gap, in order, nothing before it"
    assert [e["text"] for e in replay if e["kind"] == "message"] == [f"missed {i}" for i in range(5)]
    edit = [e for e in replay if e["kind"] == "edit"]
    assert len(edit) == 1 and edit[0]["target_seq"] == sent[0]["seq"] and edit[0]["text"] == "missed 0!"

    # And it is live again afterwards, without duplicates.
    after = await agent.send_message("live again", conv)
    await back.wait_type("event", seq=after["seq"])
    await back.quiet(0.2)
    all_seqs = [e["seq"] for e in back.events(conv)]
    assert len(all_seqs) == len(set(all_seqs))


async def test_resend_with_the_same_client_id_is_not_doubled(server: LiveServer) -> None:
    agent, shopper, conv = await _chat(server)
    first = await shopper.send_message("pay by invoice?", conv, client_id="same-1")
    again = await shopper.send_message("pay by invoice?", conv, client_id="same-1")
    assert again["type"] == "ack" and again["duplicate"] is True
    assert (again["seq"], again["conversation_id"]) == (first["seq"], first["conversation_id"])

    # Ten copies at once, from two connections of the same visitor: one row, one seq.
    twin = await server.customer(visitor_token=shopper.welcome["visitor_token"], resume={conv: 0})
    frames = [(c, {"type": "message.send", "client_id": "burst-1", "conversation_id": conv, "text": "burst"})
              for c in (shopper, twin) for _ in range(5)]
    await asyncio.gather(*(c.send(**f) for c, f in frames))
    acks = [await c.wait_for(lambda f: f.get("client_id") == "burst-1" and f["type"] == "ack") for c, _ in frames]
    assert len({a["seq"] for a in acks}) == 1
    assert sum(1 for a in acks if not a.get("duplicate")) == 1
    transcript = await server.node._conversations.events_after(conv, 0, 1000)
    assert [s.event.text for s in transcript if s.event.kind == "message"].count("burst") == 1
    await agent.wait_for(lambda f: f.get("text") == "burst")
    await agent.quiet(0.2)
    assert [f.get("text") for f in agent.frames if f["type"] == "event"].count("burst") == 1

    # The very first message of a new conversation is idempotent too (no conversation id yet).
    fresh = await server.customer()
    one = await fresh.send_message("new chat", client_id="start-1")
    two = await fresh.send_message("new chat", client_id="start-1")
    assert two["duplicate"] is True and two["conversation_id"] == one["conversation_id"]
    assert len(await server.node._conversations.for_customer(fresh.welcome["customer_id"])) == 1


async def test_a_lost_broker_hint_is_recovered_from_the_store(server: LiveServer) -> None:
    """An event committed but never published (as when Redis drops it) still reaches everyone."""
    agent, shopper, conv = await _chat(server)
    agent_id = agent.welcome["agent"]["id"]
    lost = await server.node.db.write(lambda tx: ConversationStore.append(
        tx, conv, kind="message", author_type="agent", author_id=agent_id, text="never published"))
    # The next published event exposes the gap: the hub reads the missing one first, in order.
    nxt = await agent.send_message("published", conv)
    got = await shopper.wait_type("event", seq=nxt["seq"])
    texts = [e["text"] for e in shopper.events(conv, "message")]
    assert texts[-2:] == ["never published", "published"] and got["text"] == "published"

    # A lost *last* event is caught by the periodic position check (1 s in tests).
    last = await server.node.db.write(lambda tx: ConversationStore.append(
        tx, conv, kind="message", author_type="agent", author_id=agent_id, text="lost last"))
    await shopper.wait_type("event", seq=last.seq, timeout=5)
    assert lost.seq < nxt["seq"] < last.seq


async def test_reset_when_the_store_epoch_changed(server: LiveServer) -> None:
    _agent, shopper, conv = await _chat(server)
    back = await server.customer(visitor_token=shopper.welcome["visitor_token"], resume={conv: 1}, epoch="restored")
    reset = await back.wait_type("reset")
    assert reset["conversation"]["id"] == conv and reset["epoch"] == shopper.welcome["epoch"]
    assert [e["seq"] for e in reset["events"]] == list(range(1, reset["conversation"]["last_seq"] + 1))


async def test_reset_when_further_behind_than_the_replay_limit(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, replay_limit=5, snapshot_events=3,
                                          rate_burst=100, rate_per_second=100)).start()
    try:
        agent, shopper, conv = await _chat(live)
        token = shopper.welcome["visitor_token"]
        await shopper.close()
        for i in range(8):
            await agent.send_message(f"m{i}", conv)
        back = await live.customer(visitor_token=token, resume={conv: 2})
        reset = await back.wait_type("reset")
        assert [e["text"] for e in reset["events"]] == ["m5", "m6", "m7"]
        # Live after the reset continues from the snapshot's end.
        nxt = await agent.send_message("after reset", conv)
        assert (await back.wait_type("event", seq=nxt["seq"]))["text"] == "after reset"
    finally:
        await live.stop()


async def test_a_slow_consumer_is_closed_and_resumes_losslessly(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, send_queue_frames=16, rate_burst=10_000,
                                          rate_per_second=10_000, max_message_chars=8000)).start()
    try:
        agent, shopper, conv = await _chat(live)
        token, cursor = shopper.welcome["visitor_token"], shopper.last_seq(conv)
        # This client never reads: its TCP buffers fill, then its server-side queue.
        stalled = await WsClient.connect(f"{live.ws}/ws/widget", max_queue=1)
        await stalled.send(type="hello", visitor_token=token, resume={conv: cursor})
        bystander = await live.customer()
        body = "x" * 7900
        acks = []

        def dropped() -> bool:
            return any(getattr(p, "close_code", None) == 4001 for p in live.node.hub.peers())

        for i in range(1500):
            acks.append(await agent.send_message(f"{i} {body}", conv))
            if i % 20 == 0 and dropped():
                break
        assert dropped(), "the stalled client should have been marked a slow consumer"
        # The others were never slowed down: the bystander still chats.
        assert (await bystander.send_message("still fast?"))["type"] == "ack"
        # When it reads again, it finds the data already sent, then the close code.
        code = await stalled.closed_with(timeout=30)
        assert code == 4001
        # It comes back and gets everything it missed, once, in order.
        back = await live.customer(visitor_token=token, resume={conv: cursor})
        done = await back.wait_type("resumed", conversation_id=conv, timeout=30)
        seqs = [e["seq"] for e in back.events(conv)]
        assert seqs == list(range(cursor + 1, done["seq"] + 1))
        assert done["seq"] >= acks[-1]["seq"]
    finally:
        await live.stop()
