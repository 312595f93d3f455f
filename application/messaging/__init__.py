"""Messages to customers: the dispatcher (channels, providers, consent, delivery records)."""

from application.messaging.dispatcher import Messaging, MessagingPolicy

__all__ = ["Messaging", "MessagingPolicy"]
