"""One command for the benchmark: N customers held, a broadcast, chat latency and throughput, a restart.

    python -m bench.run --customers 1000 --servers 1
    python -m bench.run --customers 10000 --servers 2 --clients 2

Starts a private redis-server, S server processes on one SQLite file, C load-client processes;
imports the customers through the API, holds one identified connection per customer, sends one
campaign to all (marketer API -> store -> Redis -> hub -> sockets), runs open-loop chats and a
closed-loop chat throughput test while the connections stay open, then restarts every server
under them (a reconnect storm). Prints a summary and writes bench/results/<UTC time>.json.
Loopback only; everything bounded. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-shop-secret-0123456789abcdef0123456789"
PASSWORD = "bench-console-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.servers: list[tuple[int, subprocess.Popen[bytes]]] = []
        self.env: dict[str, str] = {}

    def spawn(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, **kwargs)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self) -> None:
        redis_port = free_port()
        redis_bin = shutil.which("redis-server")
        if not redis_bin:
            raise SystemExit("redis-server is needed: apt-get install redis-server")
        self.spawn([redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                   stdout=subprocess.DEVNULL)
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DATABASE_URL": str(self.tmp / "bench.db"),
            # --broker memory: one process, no Redis in the path (the embedded default).
            **({"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"} if self.args.broker == "redis" else {}),
            "RAPPORT_SHOP_SECRET": SECRET,
            "RAPPORT_SECRET_KEY": "bench-secret-key",
            "RAPPORT_ADMIN_PASSWORD": PASSWORD,
            "RAPPORT_ARGON2_TIME_COST": "1",
            "RAPPORT_ARGON2_MEMORY_KIB": "8",
            "RAPPORT_ARGON2_PARALLELISM": "1",
            "RAPPORT_RATE_PER_SECOND": "1000",
            "RAPPORT_RATE_BURST": "1000",
            "RAPPORT_AGENT_MAX_CONCURRENT": "100000",
            "RAPPORT_FREQUENCY_CAP_PER_DAY": "1000",
            # Every simulated shopper connects from 127.0.0.1: the per-address limits (docs/security.md)
            # would take them for one flooding client.
            "RAPPORT_VISITOR_CONNECTS_PER_MINUTE": "10000000",
            "RAPPORT_NEW_CONVERSATIONS_PER_ADDRESS": "10000000",
            "RAPPORT_NEW_CONVERSATIONS_PER_MINUTE": "10000000",
            "RAPPORT_LOGIN_ATTEMPTS_PER_ADDRESS": "100000",
            "RAPPORT_LOG_LEVEL": "warning",
        }
        time.sleep(0.3)
        for _ in range(self.args.servers):
            port = free_port()
            proc = self.spawn([sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=self.env)
            self.servers.append((port, proc))
        for port, _ in self.servers:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit(f"server on {port} did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.servers[0][0]}"

    def api_token(self) -> str:
        out = subprocess.run([sys.executable, "-m", "server", "apikey", "add", "--name", "bench"], cwd=ROOT,
                             env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]

    async def run(self) -> dict[str, Any]:
        args = self.args
        token = self.api_token()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=120) as http:
            lines = "\n".join(json.dumps({"id": f"c{i}", "name": f"Customer {i}", "marketing_consent": True})
                              for i in range(args.customers))
            started = time.monotonic()
            r = await http.post("/api/v1/customers/import", content=lines,
                                headers={"Content-Type": "application/x-ndjson"})
            r.raise_for_status()
            import_seconds = time.monotonic() - started

            rss_before = {port: rss_kib(proc.pid) for port, proc in self.servers}
            per_client = args.customers // args.clients
            servers = ",".join(f"127.0.0.1:{port}" for port, _ in self.servers)
            loaders = []
            for c in range(args.clients):
                count = per_client if c < args.clients - 1 else args.customers - per_client * c
                out = self.tmp / f"load{c}.json"
                proc = self.spawn([sys.executable, "-m", "bench.load", "--servers", servers, "--first",
                                   str(c * per_client), "--count", str(count), "--secret", SECRET,
                                   "--timeout", "120", "--out", str(out)],
                                  cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                loaders.append((proc, out))
            connect_started = time.monotonic()
            for proc, _ in loaders:
                assert proc.stdout is not None
                line = await asyncio.to_thread(proc.stdout.readline)
                if not line.startswith(b"READY"):
                    raise SystemExit(f"load client failed: {line!r}")
            connect_seconds = time.monotonic() - connect_started
            await asyncio.sleep(1.0)
            rss_after = {port: rss_kib(proc.pid) for port, proc in self.servers}
            cpu_before = {port: cpu_seconds(proc.pid) for port, proc in self.servers}

            profiler = await self.profile("broadcast")
            created = (await http.post("/api/v1/campaigns", json={
                "name": "bench", "kind": "offer", "audience": {"type": "all"},
                "title": "Hi {{ customer.first_name }}", "body": "A personal offer for you"})).json()
            for proc, _ in loaders:
                assert proc.stdin is not None
                proc.stdin.write(b"GO\n")
                proc.stdin.flush()
            sent_ns = time.monotonic_ns()
            r = await http.post(f"/api/v1/campaigns/{created['id']}/send", json={})
            r.raise_for_status()
            for proc, _ in loaders:
                assert proc.stdout is not None
                await asyncio.to_thread(proc.stdout.readline)
            cpu_after = {port: cpu_seconds(proc.pid) for port, proc in self.servers}
            if profiler is not None:
                await asyncio.to_thread(profiler.wait, 30)

        deliveries, lost, doubled, connections = [], 0, 0, 0
        for _, out in loaders:
            data = json.loads(out.read_text())
            connections += data["connections"]
            for got in data["notifications"].values():
                seqs = [s for s, _ in got]
                if not got:
                    lost += 1
                doubled += len(seqs) - len(set(seqs))
                deliveries += [(t - sent_ns) / 1e6 for _, t in got[:1]]
        chat = await self.chat()
        throughput = await self.chat_throughput()
        storm = await self.reconnect_storm([proc for proc, _ in loaders])
        broadcast_seconds = max(deliveries) / 1000 if deliveries else float("nan")
        server_cpu = sum(cpu_after[p] - cpu_before[p] for p in cpu_after)
        return {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "customers": args.customers, "servers": args.servers, "load_clients": args.clients,
            "cpu": _cpu_model(),
            "import_seconds": round(import_seconds, 2),
            "connections": connections,
            "connect_per_second": round(connections / connect_seconds),
            "kib_per_idle_connection": round(
                sum(rss_after[p] - rss_before[p] for p in rss_after) / max(1, connections), 1),
            "broadcast": {
                "deliveries_per_second": round(len(deliveries) / broadcast_seconds) if deliveries else 0,
                "first_ms": round(min(deliveries), 1) if deliveries else None,
                "p50_ms": round(percentile(deliveries, 50), 1),
                "p99_ms": round(percentile(deliveries, 99), 1),
                "last_ms": round(max(deliveries), 1) if deliveries else None,
                "lost": lost, "doubled": doubled,
                "server_cpu_us_per_delivery": round(server_cpu * 1e6 / max(1, len(deliveries)), 1),
            },
            "chat": chat,
            "chat_throughput": throughput,
            "reconnect_storm": storm,
        }

    async def reconnect_storm(self, loaders: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
        """A deploy: every server gets SIGTERM (closing its sockets with 1012) and starts again on
        the same port; every customer reconnects with jitter and resumes from its inbox cursor."""
        for proc in loaders:
            assert proc.stdin is not None
            proc.stdin.write(b"STORM\n")
            proc.stdin.flush()
        for proc in loaders:
            assert proc.stdout is not None
            await asyncio.to_thread(proc.stdout.readline)  # STORMING
        began = time.monotonic()
        restarted = []
        for port, proc in self.servers:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
            restarted.append((port, self.spawn(
                [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT, env=self.env)))
        self.servers = restarted
        ready_at = None
        async with httpx.AsyncClient() as http:
            while ready_at is None and time.monotonic() - began < 60:
                with contextlib.suppress(httpx.HTTPError):
                    codes = [(await http.get(f"http://127.0.0.1:{p}/readyz", timeout=1)).status_code
                             for p, _ in restarted]
                    if codes == [200] * len(restarted):
                        ready_at = time.monotonic()
                await asyncio.sleep(0.02)
        resumed, duplicates = 0, 0
        for proc in loaders:
            assert proc.stdout is not None
            line = (await asyncio.to_thread(proc.stdout.readline)).decode().split()
            if line[:1] != ["RESUMED"]:
                raise SystemExit(f"load client failed in the storm: {line!r}")
            resumed += int(line[1])
            duplicates += int(line[3])
        done_at = time.monotonic()
        for proc in loaders:
            assert proc.stdin is not None
            proc.stdin.write(b"EXIT\n")
            proc.stdin.flush()
        back_in = done_at - (ready_at or began)
        return {
            "resumed": resumed,
            "seconds_from_sigterm": round(done_at - began, 2),
            "seconds_after_ready": round(back_in, 2),
            "resumes_per_second": round(resumed / back_in) if back_in > 0 else None,
            "duplicates": duplicates,
        }

    async def profile(self, phase: str) -> subprocess.Popen[bytes] | None:
        """py-spy on the first server for 4 s from now, if this phase is the one asked for
        (pip install py-spy); it samples only the thread holding the GIL: the CPU's share of
        each function, whichever thread runs it."""
        if not self.args.profile or self.args.profile_phase != phase:
            return None
        profiler = self.spawn(["py-spy", "record", "--pid", str(self.servers[0][1].pid), "--duration", "4",
                               "--rate", "250", "--format", "raw", "--output", self.args.profile,
                               "--nonblocking", "--gil"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
        return profiler

    async def chat_throughput(self) -> dict[str, Any]:
        """Closed loop, as fast as the server acks: 20 shoppers, each with 10 messages in flight,
        for 5 s; every message stored (acked after its commit) and delivered to the agent."""
        shoppers, window, seconds = 20, 10, 5.0
        port = self.servers[-1][0]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            login = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": PASSWORD})
            cookie = login.cookies["rapport_session"]
        agent = await connect(f"ws://127.0.0.1:{port}/ws/agent", additional_headers={
            "Cookie": f"rapport_session={cookie}"}, compression=None, max_queue=None)
        await agent.send(json.dumps({"type": "hello"}))
        delivered = 0
        marker = "tp-"

        async def agent_reader() -> None:
            nonlocal delivered
            async for raw in agent:
                if marker in raw:
                    frame = json.loads(raw)
                    if frame["type"] == "event" and frame.get("client_id", "").startswith(marker):
                        delivered += 1

        reader = asyncio.create_task(agent_reader())
        acked = 0
        profiler = await self.profile("chat")
        cpu_before = {p: cpu_seconds(proc.pid) for p, proc in self.servers}
        stop_at = time.monotonic() + seconds

        async def shopper(n: int) -> None:
            nonlocal acked
            ws = await connect(f"ws://127.0.0.1:{port}/ws/widget", compression=None, max_queue=None)
            await ws.send(json.dumps({"type": "hello"}))
            first = {"type": "message.send", "client_id": f"{marker}{n}-0", "text": "start"}
            await ws.send(json.dumps(first))
            conversation = None
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    conversation = frame["conversation_id"]
                    acked += 1
                    break
            sent = 1
            in_flight = 0
            while time.monotonic() < stop_at:
                while in_flight < window:
                    await ws.send(json.dumps({"type": "message.send", "client_id": f"{marker}{n}-{sent}",
                                              "conversation_id": conversation, "text": f"message {sent}"}))
                    sent += 1
                    in_flight += 1
                raw = await ws.recv()
                if '"ack"' in raw:
                    acked += 1
                    in_flight -= 1
            await ws.close()

        started = time.monotonic()
        await asyncio.gather(*(shopper(n) for n in range(shoppers)))
        took = time.monotonic() - started
        cpu = sum(cpu_seconds(proc.pid) - cpu_before[p] for p, proc in self.servers)
        await asyncio.sleep(1.0)
        reader.cancel()
        await agent.close()
        if profiler is not None:
            await asyncio.to_thread(profiler.wait, 30)
        return {
            "acked_per_second": round(acked / took),
            "delivered_to_agent_per_second": round(delivered / took),
            "server_cpu_us_per_message": round(cpu * 1e6 / max(1, acked), 1),
        }

    async def chat(self) -> dict[str, Any]:
        """K shoppers each send a message every 200 ms for 5 s (open loop, staggered); one agent receives them."""
        k = self.args.chats
        port = self.servers[-1][0]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            login = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": PASSWORD})
            cookie = login.cookies["rapport_session"]
        received: dict[str, float] = {}
        acked: dict[str, float] = {}
        sent: dict[str, float] = {}
        opens: set[str] = set()
        agent = await connect(f"ws://127.0.0.1:{port}/ws/agent", additional_headers={
            "Cookie": f"rapport_session={cookie}"}, compression=None, max_queue=None)
        await agent.send(json.dumps({"type": "hello"}))

        async def agent_reader() -> None:
            async for raw in agent:
                frame = json.loads(raw)
                if frame["type"] == "event" and frame.get("kind") == "message" and frame.get("client_id"):
                    received.setdefault(frame["client_id"], time.monotonic())

        reader = asyncio.create_task(agent_reader())
        # The agent coming online is announced to every connected customer (one frame each, a
        # broadcast of its own); the chat is measured once that is out, not on top of it.
        await asyncio.sleep(2.0)
        profiler = await self.profile("latency")
        shoppers = []
        for i in range(k):
            server_port = self.servers[i % len(self.servers)][0]
            ws = await connect(f"ws://127.0.0.1:{server_port}/ws/widget", compression=None, max_queue=None)
            await ws.send(json.dumps({"type": "hello"}))
            shoppers.append(ws)

        async def shopper(ws: Any, offset: float) -> None:
            conversation = None

            async def read() -> None:
                nonlocal conversation
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "ack":
                        acked[frame["client_id"]] = time.monotonic()
                        conversation = conversation or frame["conversation_id"]

            task = asyncio.create_task(read())
            # Spread evenly over the 200 ms period (open loop), not 50 senders in lock step.
            start = time.monotonic() + offset
            for n in range(25):
                await asyncio.sleep(max(0.0, start + n * 0.2 - time.monotonic()))
                client_id = uuid.uuid4().hex
                frame = {"type": "message.send", "client_id": client_id, "text": f"question {n}"}
                if conversation:
                    frame["conversation_id"] = conversation
                elif n:
                    continue  # the first message's ack (the conversation id) has not come back yet
                else:
                    opens.add(client_id)
                sent[client_id] = time.monotonic()
                await ws.send(json.dumps(frame))
            await asyncio.sleep(2)
            task.cancel()

        await asyncio.gather(*(shopper(ws, i * 0.2 / k) for i, ws in enumerate(shoppers)))
        await asyncio.sleep(1)
        if profiler is not None:
            await asyncio.to_thread(profiler.wait, 30)
        reader.cancel()
        for ws in [*shoppers, agent]:
            await ws.close()
        deliver = [(received[c] - t) * 1000 for c, t in sent.items() if c in received]
        # A conversation's first message also opens it (queue, assignment, grants): reported
        # apart, since all 50 open within the first 200 ms, a burst real traffic rarely makes.
        opening = [(received[c] - sent[c]) * 1000 for c in opens if c in received]
        rest = [(received[c] - t) * 1000 for c, t in sent.items() if c in received and c not in opens]
        ack = [(acked[c] - t) * 1000 for c, t in sent.items() if c in acked]
        return {
            "messages": len(sent),
            "lost": len([c for c in sent if c not in received]),
            "unacked": len([c for c in sent if c not in acked]),
            "deliver_p50_ms": round(percentile(deliver, 50), 2),
            "deliver_p99_ms": round(percentile(deliver, 99), 2),
            "deliver_max_ms": round(max(deliver), 2) if deliver else None,
            "ack_p50_ms": round(percentile(ack, 50), 2),
            "ack_p99_ms": round(percentile(ack, 99), 2),
            "opening_deliver_p50_ms": round(percentile(opening, 50), 2),
            "opening_deliver_max_ms": round(max(opening), 2) if opening else None,
            "in_conversation_deliver_p50_ms": round(percentile(rest, 50), 2),
            "in_conversation_deliver_p99_ms": round(percentile(rest, 99), 2),
        }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--broker", choices=("redis", "memory"), default="redis")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--profile", help="write a py-spy profile (raw folded stacks) of server 1 to this file")
    parser.add_argument("--profile-phase", choices=("broadcast", "latency", "chat"), default="broadcast",
                        help="the phase --profile samples: the broadcast, the open-loop chat (its first"
                             " second holds the 50 openings), or the closed-loop chat")
    args = parser.parse_args()
    if args.broker == "memory" and args.servers != 1:
        parser.error("the memory broker fans out within one process: --servers 1")
    bench = Bench(args)
    try:
        bench.start()
        result = asyncio.run(bench.run())
    finally:
        bench.cleanup()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{name}-{args.customers}c-{args.servers}s.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    b, c = result["broadcast"], result["chat"]
    print(f"\n{result['connections']} connections on {args.servers} server(s): "
          f"{result['kib_per_idle_connection']} KiB each, {result['connect_per_second']}/s to connect")
    print(f"broadcast: {b['deliveries_per_second']} deliveries/s, last after {b['last_ms']} ms "
          f"(p50 {b['p50_ms']}, p99 {b['p99_ms']}), lost {b['lost']}, doubled {b['doubled']}, "
          f"{b['server_cpu_us_per_delivery']} us server CPU each")
    print(f"chat: {c['messages']} messages, deliver p50 {c['deliver_p50_ms']} ms p99 {c['deliver_p99_ms']} ms, "
          f"ack p50 {c['ack_p50_ms']} ms p99 {c['ack_p99_ms']} ms, lost {c['lost']}, unacked {c['unacked']}")
    print(f"  within a conversation: deliver p50 {c['in_conversation_deliver_p50_ms']} ms "
          f"p99 {c['in_conversation_deliver_p99_ms']} ms; opening one (50 in 200 ms): "
          f"p50 {c['opening_deliver_p50_ms']} ms, max {c['opening_deliver_max_ms']} ms")
    t = result["chat_throughput"]
    print(f"chat throughput: {t['acked_per_second']} messages/s stored and acked, "
          f"{t['delivered_to_agent_per_second']}/s delivered to the agent, "
          f"{t['server_cpu_us_per_message']} us server CPU each")
    st = result["reconnect_storm"]
    print(f"reconnect storm: {st['resumed']} of {result['connections']} resumed, {st['seconds_from_sigterm']} s from "
          f"SIGTERM ({st['seconds_after_ready']} s after the restarted server was ready, "
          f"{st['resumes_per_second']}/s), duplicates {st['duplicates']}")
    if statistics.fmean([b["lost"], b["doubled"], c["lost"], st["duplicates"]]) > 0 or (
        st["resumed"] != result["connections"]
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
