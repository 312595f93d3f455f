"""The EasyPost carrier: international and US parcels through EasyPost's v2 API.

Addresses (verified on request), shipments with their parcel and, abroad, customs, rates,
buying a rate (the chosen or the lowest) for a label, voiding labels, trackers, and tracker
webhooks signed with `X-Hmac-Signature`. Every call goes through OutboundHttp; what carries an
address or a phone number is withheld from its evidence, and a summary without them is kept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from adapters.credentials import LiveSetting
from adapters.http import HttpResponse, OutboundHttp
from adapters.shipping import easypost_tracking as tracking
from application.ports import EvidenceLedger, InboundEvent, ShipmentRequest
from domain.errors import DomainError, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.orders import ShippingAddress
from domain.shipments import TrackingUpdate

PROVIDER = "easypost"
# A small box (inches, ounces) for parcels booked through the port, which gives no sizes.
DEFAULT_PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 16}
# Request fields that hold addresses and phone numbers: masked in the evidence.
_PERSONAL_FIELDS = frozenset({"address", "shipment"})
# Buying twice is refused with this code: the first purchase (whose answer was lost) stands.
_ALREADY_BOUGHT = "SHIPMENT.POSTAGE.EXISTS"


@dataclass(frozen=True)
class Rate:
    id: str
    carrier: str
    service: str
    amount: Decimal
    currency: str
    delivery_days: int | None = None


@dataclass(frozen=True)
class Quote:
    """A shipment EasyPost knows, with its rates and, once bought, its label."""

    shipment_id: str
    rates: tuple[Rate, ...]
    tracking_code: str | None = None
    label_url: str | None = None
    selected_rate: Rate | None = None
    refund_status: str | None = None

    def lowest_rate(self, carriers: Sequence[str] = (), services: Sequence[str] = ()) -> Rate:
        """The cheapest rate, among the carriers and services named when some are."""
        fitting = [r for r in self.rates
                   if (not carriers or r.carrier.lower() in {c.lower() for c in carriers})
                   and (not services or r.service.lower() in {s.lower() for s in services})]
        if not fitting:
            raise DomainError(f"EasyPost quoted no rate for shipment {self.shipment_id} "
                              "among the carriers and services asked for")
        return min(fitting, key=lambda r: r.amount)


@dataclass(frozen=True)
class VerifiedAddress:
    id: str
    verified: bool | None  # None when no verification was asked for
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tracker:
    id: str
    tracking_code: str
    status: str
    status_detail: str
    update: TrackingUpdate | None
    public_url: str | None = None


def basic_authorization(api_key: str) -> str:
    """EasyPost's Basic scheme: the API key is the user name and the password is empty."""
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode("ascii")


def easypost_address(address: ShippingAddress) -> dict[str, str]:
    """Only what a carrier needs to deliver: no e-mail, no phone."""
    fields = {"name": address.recipient, "street1": address.line1, "street2": address.line2,
              "city": address.city, "zip": address.postal_code, "country": address.country}
    return {key: value for key, value in fields.items() if value}


def customs_info(items: Sequence[Mapping[str, Any]], origin_country: str,
                 signer: str) -> dict[str, Any]:
    """A customs declaration for the items of an international parcel. Each item's `value`
    (the total of its line, in the shipment's currency) is required: a guessed value would be
    a false declaration. Without its `weight`, an item gets an even share of the parcel's."""
    missing = [str(item.get("sku") or "?") for item in items if item.get("value") is None]
    if missing or not items:
        raise DomainError("customs needs the declared value of every item shipped abroad; "
                          f"missing for {', '.join(missing) or 'an empty parcel'}")
    share = round(DEFAULT_PARCEL["weight"] / len(items), 1)
    return {
        "customs_certify": True, "customs_signer": signer, "contents_type": "merchandise",
        "restriction_type": "none", "non_delivery_option": "return", "eel_pfc": "NOEEI 30.37(a)",
        "customs_items": [{
            "description": str(item.get("description") or item.get("sku") or "merchandise"),
            "quantity": int(item.get("quantity", 1)),
            "weight": item.get("weight", share),
            "value": item["value"],
            **({"currency": item["currency"]} if item.get("currency") else {}),
            "origin_country": origin_country,
            **({"hs_tariff_number": item["hs_tariff_number"]}
               if item.get("hs_tariff_number") else {}),
        } for item in items],
    }


class EasyPostCarrier:
    name = PROVIDER

    def __init__(
        self, http: OutboundHttp, ledger: EvidenceLedger, api_key: str | LiveSetting,
        webhook_secrets: Sequence[str], base_url: str | LiveSetting = "https://api.easypost.com",
        origin: Mapping[str, str] | None = None,
    ) -> None:
        if not str(api_key):
            raise ValueError("an EasyPost API key is required")
        # A key, secrets or endpoint rotated in (adapters/credentials.py) apply at once.
        self._http, self._ledger = http, ledger
        self._api_key, self._base_url = api_key, base_url
        self._secrets = webhook_secrets
        self._origin = dict(origin or {})

    @property
    def _base(self) -> str:
        return str(self._base_url).rstrip("/") + "/v2"

    @property
    def _authorization(self) -> str:
        return basic_authorization(str(self._api_key))

    # --- the Carrier port ---------------------------------------------------------------------

    async def create_shipment(self, request: ShipmentRequest) -> str:
        """Quote the parcel from our origin to the customer, buy the lowest rate, and return
        its tracking code (EasyPost then tracks it and sends tracker webhooks)."""
        if not self._origin.get("country"):
            raise DomainError("EasyPost needs the mall's origin address to ship from")
        subject = f"order:{request.order_id}"
        to_address = easypost_address(request.address)
        shipment: dict[str, Any] = {
            "to_address": to_address, "from_address": self._origin,
            "parcel": dict(DEFAULT_PARCEL), "reference": request.idempotency_key,
        }
        if to_address["country"] != self._origin["country"]:
            shipment["customs_info"] = customs_info(
                request.items, self._origin["country"],
                self._origin.get("company") or self._origin.get("name") or "Shipping desk")
        quote = await self.quote(shipment, subject)
        bought = await self.buy(quote.shipment_id, quote.lowest_rate().id, subject)
        if not bought.tracking_code:
            raise ProviderUnavailable("EasyPost sold a label without a tracking code; look "
                                      f"shipment {bought.shipment_id} up", request_sent=True)
        await self._ledger.record(EvidenceDraft(
            source=PROVIDER, kind="provider.parcel", subject=subject,
            context={"shipment_id": request.shipment_id},
            payload={"easypost_shipment": bought.shipment_id,
                     "tracking_number": bought.tracking_code,
                     "rate": _shown_rate(bought.selected_rate), "items": request.items,
                     "destination_country": request.address.country,
                     "customs": "customs_info" in shipment},
        ))
        return bought.tracking_code

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return tracking.verified_event(headers, body, self._secrets)

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None:
        return tracking.translate(event)

    # --- EasyPost's own operations ------------------------------------------------------------

    async def create_address(self, address: Mapping[str, Any], *, verify: bool = False,
                             subject: str = "easypost:address") -> VerifiedAddress:
        body: dict[str, Any] = {"address": dict(address)}
        if verify:
            body["verify"] = True
        created = await self._call("POST", "/addresses", "create the address", subject,
                                   body, personal=True)
        checks = created.get("verifications")
        delivery = checks.get("delivery") if isinstance(checks, Mapping) else None
        if not isinstance(delivery, Mapping):
            return VerifiedAddress(_id(created), None if not verify else False)
        problems = tuple(str(e.get("message") or e.get("code"))
                         for e in delivery.get("errors") or [] if isinstance(e, Mapping))
        return VerifiedAddress(_id(created), bool(delivery.get("success")), problems)

    async def create_customs_info(self, customs: Mapping[str, Any],
                                  subject: str = "easypost:customs") -> str:
        created = await self._call("POST", "/customs_infos", "declare the customs info",
                                   subject, {"customs_info": dict(customs)})
        return _id(created)

    async def quote(self, shipment: Mapping[str, Any],
                    subject: str = "easypost:shipment") -> Quote:
        """Create a shipment (addresses, parcel, customs info when it goes abroad, options) and
        return its rates; naming a carrier and service buys it in the same call."""
        created = await self._call("POST", "/shipments", "create the shipment", subject,
                                   {"shipment": dict(shipment)}, personal=True)
        return _quote(created)

    async def shipment(self, shipment_id: str, subject: str = "") -> Quote:
        """A shipment as EasyPost has it now: its rates, label and refund status."""
        return _quote(await self._show("shipments", shipment_id, subject))

    async def buy(self, shipment_id: str, rate_id: str, subject: str = "") -> Quote:
        """Buy one rate of a shipment; its label URL and tracking code come back."""
        subject = subject or _subject(shipment_id)
        response = await self._send("POST", f"/shipments/{_segment(shipment_id)}/buy",
                                    subject, {"rate": {"id": rate_id}}, personal=True)
        if _error(response).get("code") == _ALREADY_BOUGHT:
            return await self.shipment(shipment_id, subject)
        return _quote(read_answer(response, f"buy a label for shipment {shipment_id}"))

    async def buy_lowest(self, quote: Quote, carriers: Sequence[str] = (),
                         services: Sequence[str] = (), subject: str = "") -> Quote:
        return await self.buy(quote.shipment_id, quote.lowest_rate(carriers, services).id,
                              subject)

    async def void_label(self, shipment_id: str, subject: str = "") -> str:
        """Ask for the label's postage back; EasyPost answers with the refund's status
        (submitted, refunded, rejected), and a refund.successful webhook follows."""
        voided = await self._call("POST", f"/shipments/{_segment(shipment_id)}/refund",
                                  f"void the label of shipment {shipment_id}",
                                  subject or _subject(shipment_id), {}, personal=True,
                                  idempotent=False)
        return _quote(voided).refund_status or "unknown"

    async def refund_labels(self, carrier: str, tracking_codes: Sequence[str],
                            subject: str = "easypost:refunds") -> dict[str, str]:
        """Void labels by tracking code: {tracking code: refund status}."""
        refunds = await self._call(
            "POST", "/refunds", "refund the labels", subject,
            {"refund": {"carrier": carrier, "tracking_codes": list(tracking_codes)}},
            idempotent=False)
        listed = refunds.get("refunds") if isinstance(refunds, Mapping) else refunds
        return {str(r.get("tracking_code")): str(r.get("status"))
                for r in listed or [] if isinstance(r, Mapping)}

    async def create_tracker(self, tracking_code: str, carrier: str = "",
                             subject: str = "") -> Tracker:
        """Follow a tracking code (EasyPost answers with the same tracker for a repeat)."""
        body: dict[str, Any] = {"tracking_code": tracking_code}
        if carrier:
            body["carrier"] = carrier
        created = await self._call("POST", "/trackers", f"track {tracking_code}",
                                   subject or _subject(tracking_code), {"tracker": body},
                                   personal=True)
        return _tracker(created)

    async def retrieve_tracker(self, tracker_id: str, subject: str = "") -> Tracker:
        return _tracker(await self._show("trackers", tracker_id, subject))

    async def available(self) -> bool:
        return await self._http.available(PROVIDER)

    # --- plumbing -----------------------------------------------------------------------------

    async def _show(self, collection: str, reference: str, subject: str) -> Any:
        """One object as EasyPost has it now (shipments and trackers may name people)."""
        return await self._call("GET", f"/{collection}/{_segment(reference)}",
                                f"show {collection.removesuffix('s')} {reference}",
                                subject or _subject(reference), personal=True)

    async def _call(self, method: str, path: str, action: str, subject: str,
                    body: Mapping[str, Any] | None = None, *, personal: bool = False,
                    idempotent: bool = True) -> Any:
        response = await self._send(method, path, subject, body, personal=personal,
                                    idempotent=idempotent)
        return read_answer(response, action)

    async def _send(self, method: str, path: str, subject: str,
                    body: Mapping[str, Any] | None = None, *, personal: bool = False,
                    idempotent: bool = True) -> HttpResponse:
        """One call. Addresses and phone numbers ride under the body's top-level keys
        (address, shipment): those are masked in the evidence, and answers holding them
        withheld. Repeats create nothing harmful (a second unbought shipment, the same
        tracker, a refused second purchase) except refunds, which are sent once."""
        return await self._http.request(
            PROVIDER, method, self._base + path, subject=subject,
            json_body=dict(body) if body is not None else None,
            headers={"Authorization": self._authorization}, idempotent=idempotent,
            secret_fields=tuple(key for key in body or () if key in _PERSONAL_FIELDS),
            personal_response=personal)


# --- answers --------------------------------------------------------------------------------


def read_answer(response: HttpResponse, action: str) -> Any:
    """EasyPost's answer, or its refusal as our error: {"error": {code, message, errors}}."""
    if 200 <= response.status < 300:
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(f"EasyPost answered something that is not JSON when "
                                      f"asked to {action}", request_sent=True) from None
    error = _error(response)
    code = str(error.get("code") or f"HTTP_{response.status}")
    reasons = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
        for e in error.get("errors") or [] if isinstance(e, Mapping))
    said = str(error.get("message") or "no reason given") + (f" ({reasons})" if reasons else "")
    if response.status >= 500 or response.status in (408, 429):
        raise ProviderUnavailable(f"EasyPost could not {action} right now ({code}); "
                                  "try again later", request_sent=True)
    if response.status in (401, 403):
        # Our key is wrong or lacks a permission: EasyPost did nothing.
        raise ProviderUnavailable(f"EasyPost refused our API key ({code})", request_sent=False)
    if response.status == 404:
        raise NotFound(f"EasyPost could not {action}: {said} [{code}]")
    raise DomainError(f"EasyPost refused to {action}: {said} [{code}]")


def _error(response: HttpResponse) -> Mapping[str, Any]:
    body = response.json_object() if response.status >= 400 else None
    error = body.get("error") if body is not None else None
    return error if isinstance(error, Mapping) else {}


def _quote(shipment: Any) -> Quote:
    if not isinstance(shipment, Mapping) or not _id(shipment):
        raise ProviderUnavailable("EasyPost answered with something that is not a shipment",
                                  request_sent=True)
    label = shipment.get("postage_label")
    rates = shipment.get("rates")
    return Quote(
        shipment_id=_id(shipment),
        rates=tuple(r for r in map(_rate, rates if isinstance(rates, list) else [])
                    if r is not None),
        tracking_code=shipment.get("tracking_code") or None,
        label_url=(label.get("label_url") or None) if isinstance(label, Mapping) else None,
        selected_rate=_rate(shipment.get("selected_rate")),
        refund_status=shipment.get("refund_status") or None,
    )


def _rate(rate: Any) -> Rate | None:
    if not isinstance(rate, Mapping) or not rate.get("id"):
        return None
    try:
        amount = Decimal(str(rate.get("rate")))
    except InvalidOperation:
        return None
    days = rate.get("delivery_days")
    return Rate(str(rate["id"]), str(rate.get("carrier") or ""), str(rate.get("service") or ""),
                amount, str(rate.get("currency") or ""), days if isinstance(days, int) else None)


def _shown_rate(rate: Rate | None) -> dict[str, Any] | None:
    return None if rate is None else {"carrier": rate.carrier, "service": rate.service,
                                      "amount": str(rate.amount), "currency": rate.currency}


def _tracker(tracker: Any) -> Tracker:
    if not isinstance(tracker, Mapping) or not _id(tracker):
        raise ProviderUnavailable("EasyPost answered with something that is not a tracker",
                                  request_sent=True)
    return Tracker(_id(tracker), str(tracker.get("tracking_code") or ""),
                   str(tracker.get("status") or "unknown"),
                   str(tracker.get("status_detail") or ""), tracking.tracking_update(tracker),
                   tracker.get("public_url") or None)


def _id(thing: Mapping[str, Any]) -> str:
    value = thing.get("id")
    return value if isinstance(value, str) else ""


def _subject(reference: str) -> str:
    return f"easypost:{reference}"


def _segment(value: str) -> str:
    """A reference as one path segment, so it cannot reach another endpoint."""
    return quote(value, safe="")

