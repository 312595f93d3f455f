"""One-click unsubscribe (RFC 8058): the signed link a promotional email carries, and the
withdrawal it makes without a sign-in.

The link names the customer and the consent purpose in a signed token, so a mail client (or
the customer) can withdraw that consent by a bare POST: withdrawal as easy as the opt-in.
"""

from __future__ import annotations

from application.ports import TokenIssuer, UnitOfWorkFactory
from domain.errors import DomainError, Unauthorized
from domain.evidence import EvidenceDraft
from domain.identity import binding_of
from domain.messages import MARKETING_CONSENT, NIGHT_CONSENT

LINK_PURPOSE = "unsubscribe"
# Mail clients keep the headers as long as the message: the link must outlive it by far
# (CAN-SPAM asks for at least 30 days; Gmail shows the button on old mail too).
LINK_LIFETIME = 400 * 24 * 3600
PURPOSES = (*MARKETING_CONSENT.values(), NIGHT_CONSENT)


class UnsubscribeLinks:
    """Mints and reads the unsubscribe links of promotional messages."""

    def __init__(self, tokens: TokenIssuer, base_url: str) -> None:
        self._tokens = tokens
        self._base = base_url.rstrip("/")

    def url(self, customer_id: str, purpose: str) -> str:
        if purpose not in PURPOSES:
            raise DomainError(f"no unsubscribe link for the consent '{purpose}'")
        # The purpose travels as the token's binding, a digest: the link does not say what
        # the customer agreed to, only the mall can read it back.
        token = self._tokens.purpose_token(LINK_PURPOSE, customer_id, purpose, LINK_LIFETIME)
        return f"{self._base}/v1/unsubscribe/{token}"

    def headers(self, customer_id: str, purpose: str) -> dict[str, str]:
        """The RFC 8058 headers of a promotional email withdrawing `purpose`."""
        return {"List-Unsubscribe": f"<{self.url(customer_id, purpose)}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

    def verify(self, token: str) -> tuple[str, str]:
        """(customer_id, purpose) of a genuine link; Unauthorized otherwise."""
        refused = Unauthorized("this unsubscribe link is incomplete, altered or expired: "
                               "open the whole link from the email, or sign in and change "
                               "your consents (PUT /v1/me/consents)")
        try:
            customer_id, binding = self._tokens.read_purpose_token(token, LINK_PURPOSE)
        except Unauthorized as exc:
            raise refused from exc
        for purpose in PURPOSES:
            if binding == binding_of(purpose):
                return customer_id, purpose
        raise refused


class Unsubscriptions:
    """Withdraws the consent a genuine unsubscribe link names; repeating it changes nothing."""

    def __init__(self, links: UnsubscribeLinks, uow: UnitOfWorkFactory) -> None:
        self._links, self._uow = links, uow

    async def state(self, token: str) -> tuple[str, bool]:
        """(purpose, whether it is still granted) of a genuine link, for its page."""
        customer_id, purpose = self._links.verify(token)
        async with self._uow(read_only=True) as uow:
            current = await uow.customers.consents.of_customer(customer_id)
        return purpose, current.get(purpose, False)

    async def withdraw(self, token: str, *, method: str) -> str:
        """`method`: "one_click" (RFC 8058 POST from a mail client) or "page" (the customer
        pressed the confirmation page's button). Answers the purpose withdrawn."""
        customer_id, purpose = self._links.verify(token)
        async with self._uow() as uow:
            current = await uow.customers.consents.of_customer(customer_id)
            if current.get(purpose) is False or await uow.customers.get(customer_id) is None:
                return purpose  # withdrawn already, or the account erased: nothing to record
            await uow.customers.consents.set(customer_id, purpose, False)
            await uow.evidence.append(EvidenceDraft(
                source="unsubscribe-link", kind="consent.changed",
                subject=f"customer:{customer_id}", context={"method": method},
                payload={"changes": {purpose: False}}))
            await uow.commit()
        return purpose
