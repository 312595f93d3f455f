"""One error hierarchy for the whole core. Errors say what went wrong in the business (`code`)
and whether trying again can help (`retryable`); each entrypoint says it in its own terms (the
HTTP edge maps the classes to statuses in `entrypoints/http/problems.py`)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the business was broken; the caller can act on `detail`."""

    code = "rule-violated"
    retryable = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "not-found"


class Conflict(DomainError):
    code = "conflict"
    retryable = True


class AlreadyExists(Conflict):
    """What the request would create exists already: trying again cannot help."""

    code = "already-exists"
    retryable = False


class InvalidTransition(DomainError):
    code = "invalid-transition"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidSignature(DomainError):
    code = "invalid-signature"


class ProviderUnavailable(DomainError):
    """A partner did not answer or refused service; nothing was charged or sent twice."""

    code = "provider-unavailable"
    retryable = True

    def __init__(self, detail: str, *, request_sent: bool = True,
                 alternatives: list[str] | None = None) -> None:
        super().__init__(detail)
        # False only when the provider certainly never got the request (circuit open,
        # connection refused): then another provider may be tried without risking two charges.
        self.request_sent = request_sent
        self.alternatives = alternatives or []


class RecipientRejected(DomainError):
    """A provider will never deliver to this recipient this way: `reason` is hard_bounce,
    complaint, opted_out (an SMS STOP), unregistered (a push device gone) or
    invalid_address. Retrying cannot help; the address is suppressed or the device removed."""

    code = "recipient-rejected"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class SignInRefused(Unauthorized):
    """A sign-in provider's answer failed a check; nothing was stored. `reason` is a stable
    code (state_mismatch, nonce_mismatch, invalid_token, access_denied...) and `ways_in` the
    other ways the customer can still sign in."""

    code = "sign-in-refused"

    def __init__(self, detail: str, *, reason: str, ways_in: list[str] | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.ways_in = ways_in or []


class TooManyAttempts(DomainError):
    """Too many attempts of one kind (sign-ins, sign-ups, emailed links...) in a short time;
    the next one is let through after `retry_after` seconds."""

    code = "too-many-requests"
    retryable = True

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
