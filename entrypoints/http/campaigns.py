"""Campaigns (admin): define a promotional campaign, schedule it, follow its progress and
delivery figures, cancel it. The worker sends it (application/campaigns.py)."""

from __future__ import annotations

from aiohttp import web

from domain.campaigns import Audience
from domain.messages import Channel
from entrypoints.http.api import (
    RouteTable,
    container,
    current_admin,
    json_response,
    parse,
    query_int,
    read_body,
)
from entrypoints.http.schemas.campaigns import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    ScheduleIn,
)

table = RouteTable("campaigns")
CAMPAIGN = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
LIMIT = {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}


@table.add("POST", "/v1/admin/campaigns",
           "Define a promotional campaign: channel, template, audience (marketing consent "
           "for the channel, plus jurisdictions, languages, an order since), and when to send "
           "(absent: a draft)", request=CampaignIn,
           responses={201: CampaignOut, 400: None, 403: None, 422: None}, auth="admin")
async def define_campaign(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(CampaignIn, await read_body(request))
    audience = Audience(tuple(body.audience.jurisdictions), tuple(body.audience.languages),
                        body.audience.ordered_since)
    view = await container(request).campaigns().define(
        name=body.name, channel=Channel(body.channel), template=body.template,
        audience=audience, params=dict(body.params), admin_id=admin.id, send_at=body.send_at)
    return json_response(view, status=201)


@table.add("GET", "/v1/admin/campaigns", "The latest campaigns, newest first, with figures",
           responses={200: CampaignList, 400: None, 403: None}, auth="admin", params=[LIMIT])
async def list_campaigns(request: web.Request) -> web.Response:
    await current_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    return json_response({"campaigns": await container(request).campaigns().latest(limit)})


@table.add("GET", "/v1/admin/campaigns/{id}",
           "A campaign's status, progress and delivery figures",
           responses={200: CampaignOut, 403: None, 404: None}, auth="admin", params=[CAMPAIGN])
async def campaign(request: web.Request) -> web.Response:
    await current_admin(request)
    return json_response(await container(request).campaigns().view(request.match_info["id"]))


@table.add("POST", "/v1/admin/campaigns/{id}/schedule",
           "Schedule a draft (or move a scheduled campaign's time); a time past starts it at "
           "once", request=ScheduleIn,
           responses={200: CampaignOut, 400: None, 403: None, 404: None, 409: None, 422: None},
           auth="admin", params=[CAMPAIGN])
async def schedule_campaign(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(ScheduleIn, await read_body(request))
    view = await container(request).campaigns().schedule(request.match_info["id"],
                                                         body.send_at, admin.id)
    return json_response(view)


@table.add("POST", "/v1/admin/campaigns/{id}/cancel",
           "Cancel a campaign not done yet: recipients not handed to the dispatcher yet are "
           "skipped (those handed over are on their way)",
           responses={200: CampaignOut, 403: None, 404: None, 409: None}, auth="admin",
           params=[CAMPAIGN])
async def cancel_campaign(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    return json_response(await container(request).campaigns().cancel(request.match_info["id"],
                                                                      admin.id))
