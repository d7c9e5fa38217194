"""How notifications become the protocol's N (docs/protocol.md 4.2), for REST and WebSocket alike."""

from datetime import UTC, datetime
from typing import Any

from accounts.selectors import user_public
from notifications.models import Notification


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the same text DRF writes for its own datetimes."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def notification_data(notification: Notification, *, actors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The protocol's N, with its actors from the prefetched `actor_links` (with their users),
    or `actors` when given (a row just bulk-inserted has none)."""
    if actors is None:
        actors = [user_public(link.user) for link in notification.actor_links.all()]
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "actors": actors,
        "created_at": timestamp(notification.created_at),
        "updated_at": timestamp(notification.updated_at),
        "read": notification.read_at is not None,
    }
