"""Devices a customer receives push notifications on.

A device is known by the registration token its push service gave the app. A token belongs
to one customer at a time: the app registers it again after another person signs in on the
same phone, and from then on it is that person's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PLATFORMS = ("android", "ios", "web")
# A customer's most recent registrations are kept up to this many: a message goes to every
# device, so an app that registers a new token on each start cannot pile them up.
MAX_DEVICES_PER_CUSTOMER = 10
MAX_TOKEN_LENGTH = 512  # FCM tokens run to about 160 characters, APNs ones to 64


@dataclass(frozen=True)
class PushDevice:
    token: str
    customer_id: str
    platform: str  # one of PLATFORMS
    registered_at: datetime
