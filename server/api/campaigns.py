"""Campaigns for marketers and the shop's back end: write, preview, send or schedule, pause, resume,
stop, copy, follow live and export."""

from __future__ import annotations

import datetime as dt

from starlette.responses import Response

from server.api.csv_export import Csv, csv_response
from server.api.endpoint import Call, Query, Resource, shop
from server.push.campaigns import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    Placeholders,
    PreviewIn,
    PreviewOut,
    SendIn,
    Stats,
)
from server.push.surveys import SurveyResults

resource = Resource("campaigns")
# Marketers and admins in the console, or the shop's back end with the campaigns scope.
CAMPAIGNS = shop("campaigns", "marketer", "admin")


@resource.endpoint(
    "POST",
    "/api/v1/campaigns",
    summary="Create a campaign (a draft; templates are checked now)",
    access=CAMPAIGNS,
    body=CampaignIn,
    response=CampaignOut,
    status=201,
)
async def create_campaign(call: Call) -> CampaignOut:
    assert call.actor is not None  # noqa: S101
    return await call.node.campaigns.create(call.body, created_by=f"{call.actor.type}:{call.actor.id}")


@resource.endpoint(
    "GET",
    "/api/v1/campaigns",
    summary="Campaigns, newest first",
    access=CAMPAIGNS,
    response=CampaignList,
    query={
        "limit": Query(int, 50, "page size", low=1, high=500),
        "offset": Query(int, 0, "to skip", low=0, high=10**9),
    },
)
async def list_campaigns(call: Call) -> CampaignList:
    return await call.node.campaigns.recent(call.query["limit"], call.query["offset"])


@resource.endpoint(
    "GET",
    "/api/v1/campaign-placeholders",
    summary="The placeholders a campaign's title and body may use, as {{ name }}",
    access=CAMPAIGNS,
    response=Placeholders,
)
async def campaign_placeholders(call: Call) -> Placeholders:
    return call.node.campaigns.placeholders()


@resource.endpoint(
    "GET",
    "/api/v1/campaigns/{campaign_id:str}",
    summary="A campaign",
    access=CAMPAIGNS,
    response=CampaignOut,
)
async def get_campaign(call: Call) -> CampaignOut:
    return await call.node.campaigns.get(call.path["campaign_id"])


@resource.endpoint(
    "PUT",
    "/api/v1/campaigns/{campaign_id:str}",
    summary="Change a draft or scheduled campaign",
    access=CAMPAIGNS,
    body=CampaignIn,
    response=CampaignOut,
)
async def update_campaign(call: Call) -> CampaignOut:
    return await call.node.campaigns.update(call.path["campaign_id"], call.body)


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/preview",
    summary="Render it for one customer",
    access=CAMPAIGNS,
    body=PreviewIn,
    response=PreviewOut,
)
async def preview_campaign(call: Call) -> PreviewOut:
    body: PreviewIn = call.body
    return await call.node.campaigns.preview(call.path["campaign_id"], body.customer_id)


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/send",
    summary="Send now, or schedule with send_at",
    access=CAMPAIGNS,
    body=SendIn,
    response=CampaignOut,
)
async def send_campaign(call: Call) -> CampaignOut:
    body: SendIn = call.body
    return await call.node.campaigns.send(call.path["campaign_id"], body.send_at)


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/stop",
    summary="Stop: nobody else gets it",
    access=CAMPAIGNS,
    response=CampaignOut,
)
async def stop_campaign(call: Call) -> CampaignOut:
    return await call.node.campaigns.stop_campaign(call.path["campaign_id"])


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/pause",
    summary="Pause an active campaign: it delivers nothing until resumed",
    access=CAMPAIGNS,
    response=CampaignOut,
)
async def pause_campaign(call: Call) -> CampaignOut:
    return await call.node.campaigns.pause(call.path["campaign_id"])


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/resume",
    summary="Resume a paused campaign",
    access=CAMPAIGNS,
    response=CampaignOut,
)
async def resume_campaign(call: Call) -> CampaignOut:
    return await call.node.campaigns.resume(call.path["campaign_id"])


@resource.endpoint(
    "POST",
    "/api/v1/campaigns/{campaign_id:str}/duplicate",
    summary="Copy a campaign into a new draft (a sent one can so be sent again)",
    access=CAMPAIGNS,
    response=CampaignOut,
    status=201,
)
async def duplicate_campaign(call: Call) -> CampaignOut:
    assert call.actor is not None  # noqa: S101
    return await call.node.campaigns.duplicate(
        call.path["campaign_id"], created_by=f"{call.actor.type}:{call.actor.id}"
    )


@resource.endpoint(
    "GET",
    "/api/v1/campaigns/{campaign_id:str}/stats",
    summary="Results now: audience, eligible, held back (no consent, frequency cap, expired), waiting for"
    " their next visit, recipients, delivered, opened, clicked, dismissed, redeemed, and totals over time",
    access=CAMPAIGNS,
    response=Stats,
)
async def campaign_stats(call: Call) -> Stats:
    return await call.node.campaigns.stats(call.path["campaign_id"])


_EXPORT_HEADER = (
    "customer_id", "name", "email", "status", "sent_at", "voucher_code",
    "delivered", "opened", "clicked", "dismissed", "redeemed",
)  # fmt: skip


def _iso(ms: int | None) -> str | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds") if ms else None


@resource.endpoint(
    "GET",
    "/api/v1/campaigns/{campaign_id:str}/results.csv",
    summary="Results per customer as CSV: who got it and what they did, who was held back",
    access=CAMPAIGNS,
    response=Csv,
    query={"limit": Query(int, 100_000, "rows at most", low=1, high=1_000_000)},
)
async def campaign_results_csv(call: Call) -> Response:
    campaign = await call.node.campaigns.get(call.path["campaign_id"])
    rows = await call.node.campaigns.recipients(campaign.id, call.query["limit"])
    return await csv_response(
        f"campaign-{campaign.id}.csv",
        _EXPORT_HEADER,
        (
            (r.customer_id, r.name, r.email, r.status, _iso(r.sent_at), r.voucher_code,
             int(r.delivered), int(r.opened), int(r.clicked), int(r.dismissed), int(r.redeemed))
            for r in rows
        ),
    )  # fmt: skip


@resource.endpoint(
    "GET",
    "/api/v1/campaigns/{campaign_id:str}/answers",
    summary="A survey campaign's answers, one set per customer, the latest first",
    access=CAMPAIGNS,
    response=SurveyResults,
    query={"limit": Query(int, 500, "most recent first", low=1, high=10000)},
)
async def survey_answers(call: Call) -> SurveyResults:
    campaign = await call.node.campaigns.get(call.path["campaign_id"])
    return await call.node.surveys.results(campaign.id, call.query["limit"])
