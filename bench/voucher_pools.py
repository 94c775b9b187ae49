"""Issuing a voucher pool to a large segment: how long it takes, and what the server answers meanwhile.

    python -m bench.voucher_pools                   # 20,000 customers
    python -m bench.voucher_pools --customers 100000

One `rapport serve` process on a private SQLite file. N customers are imported through the API
(all consenting, all in the segment), a pool is created and issued to the segment through the
real path: `POST .../issues` answers at once (202) and the server issues in batches of
`server.push.voucher_pools.BATCH` members, each one write transaction storing the codes and the
offers that carry them. Meanwhile a client asks `GET /healthz` (the event loop's answer time) and
`GET /api/v1/voucher-pools/{id}` (a read of the counts) every 20 ms. Printed: the issue request's
time, the whole issue's time and rate, and the latencies of the probes while it ran. Checked:
every customer holds exactly one code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.live import ProcessServer, test_settings


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    return f"median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


async def _probe(http: httpx.AsyncClient, path: str, until: asyncio.Event, found: list[float]) -> None:
    while not until.is_set():
        started = time.perf_counter()
        r = await http.get(path)
        r.raise_for_status()
        found.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)


async def main(customers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ProcessServer(test_settings(Path(tmp))).start()
        try:
            async with httpx.AsyncClient(base_url=server.base, timeout=120) as admin:
                admin.cookies.set("rapport_session", await server.login())
                admin.headers["Origin"] = server.base
                made = await admin.post("/api/v1/api-keys", json={"name": "bench", "scopes": ["*"]})
                made.raise_for_status()
            async with httpx.AsyncClient(
                base_url=server.base, timeout=120, headers={"Authorization": f"Bearer {made.json()['token']}"}
            ) as http:
                lines = "\n".join(
                    json.dumps({"id": f"c{i}", "name": f"Customer {i}", "tier": "gold", "marketing_consent": True})
                    for i in range(customers)
                )
                started = time.monotonic()
                r = await http.post(
                    "/api/v1/customers/import", content=lines, headers={"Content-Type": "application/x-ndjson"}
                )
                r.raise_for_status()
                print(f"imported {customers} customers in {time.monotonic() - started:.1f} s")
                gold = {"field": "tier", "op": "eq", "value": "gold"}
                segment = (await http.post("/api/v1/segments", json={"name": "Gold", "rules": gold})).json()
                pool = (
                    await http.post("/api/v1/voucher-pools", json={"name": "Bench", "kind": "percent", "amount": 10})
                ).json()

                # The same probe for two seconds before: what the machine answers anyway (it is shared).
                idle = asyncio.Event()
                baseline: list[float] = []
                probe = asyncio.create_task(_probe(http, "/healthz", idle, baseline))
                await asyncio.sleep(2)
                idle.set()
                await probe

                done = asyncio.Event()
                health: list[float] = []
                reads: list[float] = []
                probes = [
                    asyncio.create_task(_probe(http, "/healthz", done, health)),
                    asyncio.create_task(_probe(http, f"/api/v1/voucher-pools/{pool['id']}", done, reads)),
                ]
                started = time.perf_counter()
                issues = f"/api/v1/voucher-pools/{pool['id']}/issues"
                answer = await http.post(issues, json={"segment_id": segment["id"]})
                asked = time.perf_counter() - started
                assert answer.status_code == 202, answer.text
                while True:
                    runs = (await http.get(f"/api/v1/voucher-pools/{pool['id']}/issues")).json()["issues"]
                    if runs[0]["status"] != "running":
                        break
                    await asyncio.sleep(0.05)
                took = time.perf_counter() - started
                done.set()
                await asyncio.gather(*probes)
                run = runs[0]
                assert run["status"] == "done" and run["issued"] == customers, run
                counts = (await http.get(f"/api/v1/voucher-pools/{pool['id']}")).json()
                assert counts["issued"] == customers, counts
                print(f"issue request answered in {asked * 1000:.1f} ms (202)")
                print(f"issued {run['issued']} codes in {took:.2f} s: {run['issued'] / took:,.0f} a second")
                print(f"GET /healthz before ({len(baseline)}): {_ms(baseline)}")
                print(f"GET /healthz meanwhile ({len(health)}): {_ms(health)}")
                print(f"GET the pool's counts meanwhile ({len(reads)}): {_ms(reads)}")
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().customers))
