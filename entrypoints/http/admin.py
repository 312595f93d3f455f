"""Admin: the evidence ledger and dispute bundles, refunds, the fraud review queue,
reconciliation on demand and manual identity checks."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from application.ports import FraudReview
from entrypoints.http import schemas as s
from entrypoints.http.api import (
    BadRequest,
    RouteTable,
    container,
    current_admin,
    json_response,
    parse,
    read_body,
)

log = logging.getLogger("mall.admin")
table = RouteTable("admin")
SUBJECT = {"name": "subject", "in": "query", "required": True,
           "schema": {"type": "string", "example": "order:ord_..."}}


@table.add("GET", "/v1/admin/evidence", "Evidence records about one subject, in chain order",
           responses={200: s.EvidenceList, 400: None, 403: None}, auth="admin", params=[SUBJECT])
async def evidence_of(request: web.Request) -> web.Response:
    await current_admin(request)
    subject = request.query.get("subject", "").strip()
    if not subject or len(subject) > 80:
        raise BadRequest("give ?subject=<kind>:<id>, for example subject=order:ord_123")
    records = await container(request).evidence().of_subject(subject)
    return json_response({"subject": subject, "records": records})


@table.add("POST", "/v1/admin/evidence/verify",
           "Verify the whole evidence chain against its recorded head and the signed "
           "checkpoints; reports the first altered, missing or rewritten record and the "
           "checkpoint it contradicts, then signs a checkpoint of the head",
           responses={200: s.ChainReportOut, 403: None}, auth="admin")
async def verify_evidence(request: web.Request) -> web.Response:
    await current_admin(request)
    report = await container(request).evidence().verify()
    return json_response(report.as_dict())


ORDER_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
ADMIN_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "schema": {"type": "string", "maxLength": 255},
    "description": "The same key is the same refund: a retry never refunds twice.",
}


def _key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255 or not (key.isascii() and key.isprintable()):
        raise BadRequest("send an Idempotency-Key header (a new UUID per refund; the same "
                         "key to retry it)")
    return key


@table.add("POST", "/v1/admin/orders/{id}/refunds",
           "Refund all or part of an order's payment (idempotent per key; never more than "
           "was captured)", request=s.RefundIn,
           responses={200: s.RefundOut, 202: s.RefundOut, 403: None, 404: None, 409: None,
                      422: None, 503: None}, auth="admin", params=[ORDER_ID, ADMIN_KEY])
async def refund_order(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.RefundIn, await read_body(request))
    key = _key(request)
    order_id = request.match_info["id"]
    c = container(request)
    payments = c.payments()
    refund_id, message_id = await payments.request_refund(
        order_id, amount=body.amount, reason=body.reason, key=key, admin_id=admin.id)
    if message_id is not None:
        # Ask the provider now; if it is not answering, the outbox keeps retrying.
        try:
            await c.outbox().run(message_id)
        except Exception as exc:  # kept for the retry; the answer says pending
            log.warning("refund %s not confirmed yet: %s: %s", refund_id, type(exc).__name__,
                        exc)
    money = await payments.money_of(order_id, refund_id)
    status = money.pop("refund_status")
    return json_response({"refund_id": refund_id, "status": status,
                          "message": REFUND_MESSAGES[status], **money},
                         status=202 if status == "pending" else 200)


REFUND_MESSAGES = {
    "refunded": "The provider refunded the amount.",
    "failed": "The provider refused the refund; the amount is free to refund again. See the "
              "order's evidence for its answer.",
    "pending": "The refund is reserved and the provider has not confirmed it yet; it is "
               "retried until it does. Nothing more to do.",
}


@table.add("GET", "/v1/admin/orders/{id}/dispute-bundle",
           "Everything about an order for a chargeback answer or an audit, with provenance",
           responses={200: s.DisputeBundleOut, 403: None, 404: None}, auth="admin",
           params=[ORDER_ID])
async def dispute_bundle(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    bundle = await container(request).evidence().dispute_bundle(request.match_info["id"],
                                                                 admin.id)
    response = json_response(bundle)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="dispute-{request.match_info["id"]}.json"')
    return response


@table.add("GET", "/v1/admin/reviews", "Orders held by the fraud screen, oldest first",
           responses={200: s.ReviewList, 403: None}, auth="admin")
async def list_reviews(request: web.Request) -> web.Response:
    await current_admin(request)
    reviews = await container(request).payments().pending_reviews()
    return json_response({"reviews": [_review(r) for r in reviews]})


@table.add("POST", "/v1/admin/reviews/{id}",
           "Approve (fulfilment goes on) or reject (cancel, release or refund) a held order",
           request=s.ReviewDecisionIn,
           responses={200: s.ReviewOut, 403: None, 404: None, 409: None, 503: None},
           auth="admin", params=[ORDER_ID])
async def decide_review(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.ReviewDecisionIn, await read_body(request))
    review = await container(request).payments().decide_review(
        request.match_info["id"], approve=body.decision == "approve", admin_id=admin.id,
        note=body.note)
    return json_response(_review(review))


def _review(review: FraudReview) -> dict[str, object]:
    return {"order_id": review.order_id, "customer_id": review.customer_id,
            "score": review.score, "reasons": review.reasons, "status": review.status,
            "opened_at": review.opened_at.isoformat(),
            "decided_at": review.decided_at.isoformat() if review.decided_at else None,
            "decided_by": review.decided_by, "note": review.note}


@table.add("POST", "/v1/admin/payments/reconcile",
           "Ask the providers now about every payment still waiting for their answer",
           responses={200: s.ReconciliationOut, 403: None}, auth="admin")
async def reconcile(request: web.Request) -> web.Response:
    await current_admin(request)
    report = await container(request).payments().reconcile(timedelta(0))
    return json_response(report)


@table.add("POST", "/v1/admin/customers/{id}/identity-verification",
           "Record that a customer's identity was verified (KYC) after a manual check",
           responses={204: None, 403: None, 404: None}, auth="admin", params=[ORDER_ID])
async def verify_identity(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    await container(request).accounts().mark_identity_verified(request.match_info["id"],
                                                                admin.id)
    return web.Response(status=204)
