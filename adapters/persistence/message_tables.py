"""Tables of the messages the mall sends: delivery records and suppressions, push devices,
promotional campaigns and their recipients, and the dev mailbox."""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from adapters.persistence.columns import Json


class MessageDelivery(Table, tablename="message_delivery"):
    """One message to a customer and where it stands (domain/deliveries.py): the address
    masked, no body."""

    message_id = Varchar(length=120, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    template = Varchar(length=64)
    template_version = Varchar(length=64, default="")
    channel = Varchar(length=16, default="")
    provider = Varchar(length=40, default="")
    provider_message_id = Varchar(length=200, default="", index=True)
    masked_address = Varchar(length=80, default="")
    address_key = Varchar(length=64, default="")
    status = Varchar(length=16)
    consent = Varchar(length=80, default="")
    error_code = Varchar(length=64, default="")
    not_before = Timestamptz(null=True, default=None, index=True)
    params = Json(default="{}")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class MessageSuppression(Table, tablename="message_suppression"):
    """An address no message goes to any more (a hard bounce, a complaint), by its digest."""

    address_key = Varchar(length=64, primary_key=True)
    channel = Varchar(length=16)
    reason = Varchar(length=24)
    created_at = Timestamptz()


class Campaign(Table, tablename="campaign"):
    """A promotional campaign (domain/campaigns.py). While sending, one sender at a time
    holds it (`lease_holder` until `lease_until`); `audience_cursor` is the last customer id
    whose audience membership is written down, `audience_built` once all are."""

    id = Varchar(length=40, primary_key=True)
    name = Varchar(length=120)
    channel = Varchar(length=8)
    template = Varchar(length=64)
    params = Json(default="{}")
    audience = Json(default="{}")
    status = Varchar(length=16, index=True)  # draft | scheduled | sending | done | cancelled
    send_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=40)
    created_at = Timestamptz(index=True)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    audience_cursor = Varchar(length=40, default="")
    audience_built = Boolean(default=False)
    lease_holder = Varchar(length=40, default="")
    lease_until = Timestamptz(null=True, default=None)


class CampaignRecipient(Table, tablename="campaign_recipient"):
    """One customer of a campaign's audience, once: the key is the message id the campaign
    sends them, "cmp:<campaign id>:<customer id>"."""

    id = Varchar(length=100, primary_key=True)
    campaign_id = Varchar(length=40, index=True)
    customer_id = Varchar(length=40, index=True)
    channel = Varchar(length=8)  # the campaign's, for the channel's rate limit
    status = Varchar(length=16, index=True)  # pending | queued | sent | failed | skipped
    not_before = Timestamptz(null=True, default=None)  # quiet hours: not before then
    queued_at = Timestamptz(null=True, default=None, index=True)
    outbox_id = Varchar(length=40, null=True, default=None)  # its SendNotification
    settled_at = Timestamptz(null=True, default=None)


class MailboxMessage(Table, tablename="mailbox_message"):
    """What the dev mailbox kept instead of sending (adapters/messaging/mailbox.py): the
    sandbox's stand-in for every channel's provider, the newest few hundred messages."""

    id = Varchar(length=40, primary_key=True)  # the receipt's provider message id
    message_id = Varchar(length=120)
    channel = Varchar(length=8)
    recipient = Varchar(length=512, index=True)  # an email, a phone number, a device token
    template = Varchar(length=64, default="")
    subject = Text(default="")
    text = Text(default="")
    html = Text(default="")
    promotional = Boolean(default=False)
    data = Json(default="{}")
    sent_at = Timestamptz(index=True)


class PushDevice(Table, tablename="push_device"):
    """A device a customer receives push notifications on, by its registration token."""

    token = Varchar(length=512, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    platform = Varchar(length=16)  # android | ios | web
    registered_at = Timestamptz()
