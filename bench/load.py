"""A lean WebSocket load client: many identified customers per process, raw asyncio, no library.

Run by bench/run.py, one process per few thousand connections. Each connection completes the
HTTP upgrade by hand, sends its hello (a shop-signed JWT identity), answers pings, and records
every `notification` frame (seq, receive time). Protocol per stdout line: `READY <n> <seconds>`
once all are connected and replayed, then `DONE <path>` after writing results.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import struct
import sys
import time

import jwt


class Conn(asyncio.Protocol):
    def __init__(self, client: Client, user: str, cursor: int = 0) -> None:
        self.client = client
        self.user = user
        self.cursor = cursor  # the last inbox seq seen, sent in the hello of a reconnect
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.resumed = asyncio.get_running_loop().create_future()
        self.in_sync = False  # the server said inbox.resumed / inbox.reset on this connection
        self.notifications: list[tuple[int, int]] = []  # (seq, monotonic ns)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        key = base64.b64encode(os.urandom(16)).decode()
        host = self.client.host
        transport.write(
            f"GET /ws/widget HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytearray([0x81])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes(header) + mask + masked)

    def send_control(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.buffer[:end]:
                self.client.failed += 1
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.buffer = self.buffer[end + 4 :]
            token = jwt.encode({"sub": self.user, "exp": int(time.time()) + 3600}, self.client.secret,
                               algorithm="HS256")
            hello: dict[str, object] = {"type": "hello", "identity": {"user_id": self.user, "token": token}}
            if self.cursor:
                hello["inbox"] = self.cursor
            self.send_text(json.dumps(hello))
        self._frames()

    def _frames(self) -> None:
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 2:
            opcode = buf[pos] & 0x0F
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length = struct.unpack_from("!H", buf, pos + 2)[0]
                head = 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                head = 10
            if len(buf) - pos < head + length:
                break
            payload = buf[pos + head : pos + head + length]
            pos += head + length
            if opcode == 0x1:
                self._text(payload)
            elif opcode == 0x9:
                self.send_control(0xA, payload)
            elif opcode == 0x8:
                assert self.transport is not None
                self.transport.close()
        self.buffer = buf[pos:]

    def _text(self, payload: bytes) -> None:
        # Only the frames the bench counts are parsed; the rest are skipped cheaply.
        if payload.startswith(b'{"type":"notification"'):
            frame = json.loads(payload)
            if frame["seq"] <= self.cursor:
                self.client.duplicates += 1  # a resume must send only what came after the cursor
            self.cursor = max(self.cursor, frame["seq"])
            self.notifications.append((frame["seq"], time.monotonic_ns()))
            self.client.received += 1
            if self.client.received >= self.client.expected:
                self.client.all_received.set()
        elif payload.startswith(b'{"type":"inbox.') and not self.resumed.done():
            self.in_sync = True
            self.resumed.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.closed += 1
        if not self.resumed.done():
            self.resumed.set_result(None)
        if self.client.storm is not None and self.in_sync:
            self.in_sync = False
            self.client.storm.append(asyncio.ensure_future(self.client.reconnect(self.user, self.cursor)))


class Client:
    def __init__(self, host: str, port: int, secret: str) -> None:
        self.host = f"{host}:{port}"
        self.addr = (host, port)
        self.secret = secret
        self.failed = 0
        self.closed = 0
        self.received = 0
        self.expected = 1 << 62
        self.all_received = asyncio.Event()
        self.duplicates = 0
        self.storm: list[asyncio.Future[Conn]] | None = None  # reconnects, once a storm began

    async def reconnect(self, user: str, cursor: int) -> Conn:
        """Like a widget after its server went away: retry with jitter until resumed."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(random.uniform(0.05, 0.5))
            try:
                _, conn = await loop.create_connection(lambda: Conn(self, user, cursor), *self.addr)
            except OSError:
                continue
            await conn.resumed
            if conn.in_sync:
                return conn


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", required=True, help="host:port,host:port")
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--expect", type=int, default=1, help="notifications per connection to wait for")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    servers = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in args.servers.split(","))]
    clients = [Client(h, p, args.secret) for h, p in servers]
    conns: list[Conn] = []
    started = time.monotonic()
    limit = asyncio.Semaphore(200)  # connects in flight: a burst beyond the backlog only causes retries

    async def open_one(i: int) -> None:
        client = clients[i % len(clients)]
        async with limit:
            _, conn = await loop.create_connection(lambda: Conn(client, f"c{args.first + i}"), *client.addr)
            await conn.resumed
        conns.append(conn)

    await asyncio.gather(*(open_one(i) for i in range(args.count)))
    took = time.monotonic() - started
    for client in clients:
        client.expected = sum(1 for c in conns if c.client is client) * args.expect
    print(f"READY {len(conns)} {took:.3f}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # GO: the broadcast is being sent
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.all_received.wait() for c in clients)), args.timeout)
    results = {
        "connections": len(conns),
        "failed": sum(c.failed for c in clients),
        "closed": sum(c.closed for c in clients),
        "connect_seconds": took,
        "notifications": {c.user: c.notifications for c in conns},
    }
    with open(args.out, "w") as f:
        json.dump(results, f)
    print(f"DONE {args.out}", flush=True)
    # The connections stay open (idle) while the chat is measured; then, on STORM, every one
    # reconnects and resumes when the server restarts under it.
    if (await asyncio.to_thread(sys.stdin.readline)).strip() == "STORM":
        for client in clients:
            client.storm = []
        print("STORMING", flush=True)
        while sum(len(c.storm or ()) for c in clients) < len(conns):
            await asyncio.sleep(0.05)
        began = time.monotonic()
        back = await asyncio.gather(*(f for c in clients for f in (c.storm or ())))
        print(f"RESUMED {len(back)} {time.monotonic() - began:.3f} {sum(c.duplicates for c in clients)}", flush=True)
        conns = list(back)
        await asyncio.to_thread(sys.stdin.readline)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
