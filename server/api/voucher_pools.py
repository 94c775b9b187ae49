"""Voucher pools for marketers and the shop's back end: create, import codes, issue to a segment, counts, codes, CSV."""

from __future__ import annotations

import datetime as dt

from starlette.responses import Response

from server.api.csv_export import Csv, csv_response
from server.api.endpoint import Call, Query, Resource, shop
from server.push.voucher_pools import (
    CodePage,
    CodesIn,
    ImportOut,
    IssueIn,
    IssueList,
    IssueOut,
    PoolIn,
    PoolList,
    PoolOut,
)

resource = Resource("voucher-pools")
POOLS = shop("vouchers", "marketer", "admin")
_PAGE = {
    "limit": Query(int, 50, "page size", low=1, high=500),
    "offset": Query(int, 0, "codes to skip", low=0, high=10**9),
}


@resource.endpoint(
    "POST",
    "/api/v1/voucher-pools",
    summary="Create a voucher pool: percentage or amount, expiry, one per customer or not, codes drawn or imported",
    access=POOLS,
    body=PoolIn,
    response=PoolOut,
    status=201,
)
async def create_pool(call: Call) -> PoolOut:
    created_by = call.actor.id if call.actor is not None and call.actor.type == "agent" else None
    return await call.node.voucher_pools.create(call.body, created_by)


@resource.endpoint(
    "GET",
    "/api/v1/voucher-pools",
    summary="Voucher pools, the newest first, each with its codes available, issued, redeemed and expired",
    access=POOLS,
    response=PoolList,
)
async def list_pools(call: Call) -> PoolList:
    return await call.node.voucher_pools.all()


@resource.endpoint(
    "GET",
    "/api/v1/voucher-pools/{pool_id:str}",
    summary="A voucher pool and its counts",
    access=POOLS,
    response=PoolOut,
)
async def get_pool(call: Call) -> PoolOut:
    return await call.node.voucher_pools.get(call.path["pool_id"])


@resource.endpoint(
    "GET",
    "/api/v1/voucher-pools/{pool_id:str}/codes",
    summary="A pool's codes, paged: the issued ones (latest first) with their customer, then those not issued yet",
    access=POOLS,
    response=CodePage,
    query=_PAGE,
)
async def pool_codes(call: Call) -> CodePage:
    return await call.node.voucher_pools.codes(call.path["pool_id"], call.query["limit"], call.query["offset"])


@resource.endpoint(
    "POST",
    "/api/v1/voucher-pools/{pool_id:str}/codes",
    summary="Import codes into a pool of imported codes; codes that exist already or repeat are refused and listed",
    access=POOLS,
    body=CodesIn,
    response=ImportOut,
)
async def import_codes(call: Call) -> ImportOut:
    return await call.node.voucher_pools.import_codes(call.path["pool_id"], call.body)


@resource.endpoint(
    "GET",
    "/api/v1/voucher-pools/{pool_id:str}/codes.csv",
    summary="A pool's codes as CSV",
    access=POOLS,
    response=Csv,
)
async def export_codes(call: Call) -> Response:
    pool, codes = await call.node.voucher_pools.export(call.path["pool_id"])
    return await csv_response(
        f"voucher-pool-{pool.name}.csv",
        ["code", "status", "customer", "customer_name", "issued_at", "redeemed_at", "redeemed_order", "expires_at"],
        (
            [
                c.code,
                c.status,
                c.customer,
                c.customer_name,
                _iso(c.issued_at),
                _iso(c.redeemed_at),
                c.redeemed_order,
                _iso(c.expires_at),
            ]
            for c in codes
        ),
    )


@resource.endpoint(
    "POST",
    "/api/v1/voucher-pools/{pool_id:str}/issues",
    summary="Issue the pool to a segment's members who consent to marketing (in the background; follow it in /issues)",
    access=POOLS,
    body=IssueIn,
    response=IssueOut,
    status=202,
)
async def issue_pool(call: Call) -> IssueOut:
    return await call.node.voucher_pools.issue(call.path["pool_id"], call.body)


@resource.endpoint(
    "GET",
    "/api/v1/voucher-pools/{pool_id:str}/issues",
    summary="A pool's issues to segments, the latest first, with their progress",
    access=POOLS,
    response=IssueList,
    query={"limit": Query(int, 20, "most recent first", low=1, high=200)},
)
async def pool_issues(call: Call) -> IssueList:
    return await call.node.voucher_pools.issues(call.path["pool_id"], call.query["limit"])


def _iso(ms: int | None) -> str | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds") if ms is not None else None
