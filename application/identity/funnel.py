"""The sign-in funnel: every step recorded for attribution without personal data, and the
report of conversion by provider and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.identity.core import SignInBase
from application.ports import Clock, UnitOfWork
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import TrackEvent
from domain.errors import DomainError
from domain.identity import AuthFlow, FlowPurpose
from domain.privacy import pseudonym

_EVENT_NAMES = {
    "login_started": "Login Started", "link_started": "Link Started",
    "login_succeeded": "Login Succeeded",
    "login_failed": "Login Failed", "signed_up": "Signed Up",
    "identity_linked": "Identity Linked", "identity_unlinked": "Identity Unlinked",
}


def epoch_of(clock: Clock) -> float:
    return clock.now().timestamp()


class SignInFunnel(SignInBase):
    """Records sign-in steps and reports on them."""

    def _anon(self, customer_id: str) -> str:
        return pseudonym(customer_id, self._key, purpose="analytics")

    async def _event(self, uow: UnitOfWork, name: str, flow: AuthFlow,
                     customer_id: str | None = None, reason: str = "") -> None:
        anon = self._anon(customer_id) if customer_id else ""
        flow_ref = pseudonym(flow.state_hash, self._key, purpose="auth-flow")
        await uow.sign_ins.events.add(name, flow.provider, channel=flow.channel,
                                  campaign=flow.campaign, reason=reason, flow=flow_ref,
                                  anon_id=anon, at=epoch_of(self._clock))
        await send(uow, TrackEvent(
            customer_id or f"flow:{flow.state_hash}", _EVENT_NAMES[name],
            {"provider": flow.provider, "channel": flow.channel, "campaign": flow.campaign,
             **({"reason": reason} if reason else {})}))

    async def _record(self, name: str, provider: str, channel: str, campaign: str,
                      state_hash: str, reason: str) -> None:
        flow = AuthFlow(state_hash or new_id("flow"), provider, FlowPurpose.LOGIN, "", "", "",
                        self._clock.now(), channel=channel, campaign=campaign)
        async with self._uow() as uow:
            await self._event(uow, name, flow, reason=reason)
            await commit_and_dispatch(uow, self._queue)

    async def report(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Sign-up conversion and attribution by provider and channel: counts only."""
        if end <= start:
            raise DomainError("the end of the range must be after its start")
        async with self._uow(read_only=True) as uow:
            rows = await uow.sign_ins.events.between(start.timestamp(), end.timestamp())
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            group = groups.setdefault((row["provider"], row["channel"]), {
                "provider": row["provider"], "channel": row["channel"], "started": 0,
                "succeeded": 0, "failed": 0, "signed_up": 0, "linked": 0, "unlinked": 0,
                "failure_reasons": {}, "campaigns": {}})
            key = {"login_started": "started", "login_succeeded": "succeeded",
                   "login_failed": "failed", "signed_up": "signed_up",
                   "identity_linked": "linked", "identity_unlinked": "unlinked"}.get(row["name"])
            if key is None:
                continue
            group[key] += 1
            if key == "failed":
                reasons = group["failure_reasons"]
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
            if key == "signed_up" and row["campaign"]:
                campaigns = group["campaigns"]
                campaigns[row["campaign"]] = campaigns.get(row["campaign"], 0) + 1
        for group in groups.values():
            started = group["started"]
            group["signup_conversion"] = round(group["signed_up"] / started, 4) if started else None
            group["success_rate"] = round(group["succeeded"] / started, 4) if started else None
        return {"from": start.isoformat(), "to": end.isoformat(),
                "groups": sorted(groups.values(), key=lambda g: (g["provider"], g["channel"]))}
