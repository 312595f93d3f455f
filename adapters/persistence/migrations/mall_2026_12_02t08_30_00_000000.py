"""Outbox rows name the command they carry (its type), as the message bus reads them; rows
written before under the old work names are renamed, with the same fields."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Outbox rows carry typed commands"

RENAMED = {
    "payment.authorize": "AuthorizePayment",
    "payment.capture": "CapturePayment",
    "payment.void": "VoidPayment",
    "payment.refund": "RefundPayment",
    "shipment.create": "CreateShipment",
    "notify": "SendNotification",
    "analytics": "TrackEvent",
    "alert": "RaiseAlert",
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)

    async def rename() -> None:
        from adapters.persistence.tables import OutboxMessage

        for old, new in RENAMED.items():
            await OutboxMessage.update({OutboxMessage.topic: new}).where(
                OutboxMessage.topic == old)

    manager.add_raw(rename)
    return manager
