"""A provider's credentials and endpoints, changed through a validated workflow.

A new value is proposed, validated against the provider (or, for a webhook secret, by a
test event signed with it and checked by the verifier the webhooks go through), then
activated: from then on it is used, while the value it replaces is still accepted for an
overlap (`retiring`, for the callbacks already signed with it) and retired afterwards. A
failed validation rejects the proposal and leaves what is in force untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidTransition


class CredentialKind(StrEnum):
    WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 - a kind; callbacks signed with it pass
    API_KEY = "api_key"  # our calls are authenticated with it
    ENDPOINT = "endpoint"  # our calls go to this base URL


class CredentialStatus(StrEnum):
    PROPOSED = "proposed"
    VALIDATED = "validated"
    REJECTED = "rejected"  # its validation failed: never used
    ACTIVE = "active"
    RETIRING = "retiring"  # replaced; a webhook secret is still accepted until retire_at
    RETIRED = "retired"


S = CredentialStatus
IN_FORCE = (S.ACTIVE, S.RETIRING)


def fingerprint(value: str) -> str:
    """Enough to tell two values apart in an audit, nothing to use one with."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@dataclass
class ProviderCredential:
    id: str
    provider: str
    kind: CredentialKind
    version: int
    fingerprint: str
    status: CredentialStatus
    proposed_at: datetime
    proposed_by: str = ""
    validated_at: datetime | None = None
    activated_at: datetime | None = None
    retire_at: datetime | None = None
    retired_at: datetime | None = None
    reason: str = ""  # why a validation failed
    # The first version rotated in replaces the settings' value: a webhook secret from the
    # settings is still accepted until then.
    settings_until: datetime | None = None
    steps: list[dict[str, str]] = field(default_factory=list)

    def _step(self, status: CredentialStatus, now: datetime, by: str = "",
              note: str = "") -> None:
        self.status = status
        self.steps.append({"status": status.value, "at": now.isoformat(), "by": by,
                           "note": note[:200]})

    def validated(self, now: datetime, by: str) -> None:
        self._expect(S.PROPOSED, "validated")
        self.validated_at = now
        self._step(S.VALIDATED, now, by)

    def rejected(self, now: datetime, by: str, reason: str) -> None:
        self._expect(S.PROPOSED, "rejected")
        self.reason = reason[:300]
        self._step(S.REJECTED, now, by, reason)

    def activated(self, now: datetime, by: str, *, replaces_settings: timedelta | None = None
                  ) -> None:
        """In force from `now`; `replaces_settings`: no earlier version was rotated in, and
        the settings' webhook secrets stay accepted for that overlap."""
        self._expect(S.VALIDATED, "activated")
        self.activated_at = now
        if replaces_settings is not None and self.kind == CredentialKind.WEBHOOK_SECRET:
            self.settings_until = now + replaces_settings
        self._step(S.ACTIVE, now, by)

    def replaced(self, now: datetime, overlap: timedelta, by: str) -> None:
        """Another value took over: accepted for `overlap` more (a webhook secret), then
        retired; an API key or an endpoint stops being used at once."""
        self._expect(S.ACTIVE, "replaced")
        if self.kind == CredentialKind.WEBHOOK_SECRET and overlap > timedelta(0):
            self.retire_at = now + overlap
            self._step(S.RETIRING, now, by, f"accepted until {self.retire_at.isoformat()}")
        else:
            self.retired(now, by)

    def retired(self, now: datetime, by: str = "") -> None:
        if self.status not in IN_FORCE:
            raise InvalidTransition(f"credential {self.id} is {self.status.value}: only one "
                                    "in force can be retired")
        self.retired_at = now
        self._step(S.RETIRED, now, by)

    def due_to_retire(self, now: datetime) -> bool:
        return self.status == S.RETIRING and self.retire_at is not None and self.retire_at <= now

    def _expect(self, status: CredentialStatus, then: str) -> None:
        if self.status != status:
            raise InvalidTransition(f"credential {self.id} is {self.status.value}; only a "
                                    f"{status.value} one can be {then}")
