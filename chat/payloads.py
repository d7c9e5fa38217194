"""How chat's rows become the protocol's objects (docs/protocol.md 4.1, 4.2): M, D, channels.

The one place for it: services publish these, topics reply with them and the REST
serializers render through them, so an object reads the same over REST and WebSocket.
"""

from datetime import UTC, datetime
from typing import Any

from accounts.selectors import user_public
from chat.models import Channel, DirectMessage, Membership, Message, MessageBase


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the same text DRF writes for its own datetimes."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _message_fields(message: MessageBase) -> dict[str, Any]:
    """What M and D share. A deleted message has an empty body, whoever asks."""
    return {
        "body": "" if message.is_deleted else message.body,
        "client_id": message.client_id,
        "created_at": timestamp(message.created_at),
        "edited_at": timestamp(message.edited_at),
    }


def message_data(message: Message) -> dict[str, Any]:
    """The protocol's M."""
    return {
        "id": message.pk,
        "seq": message.seq,
        "channel": message.channel_id,
        "author": user_public(message.author),
        **_message_fields(message),
        "deleted": message.is_deleted,
    }


def dm_data(message: DirectMessage) -> dict[str, Any]:
    """The protocol's D."""
    return {
        "id": message.pk,
        "from": user_public(message.sender),
        "to": user_public(message.recipient),
        **_message_fields(message),
        "read_at": timestamp(message.read_at),
        "deleted": message.is_deleted,
    }


def channel_data(channel: Channel) -> dict[str, Any]:
    """A channel as clients see it; uses the `member_count` annotation when present."""
    member_count = getattr(channel, "member_count", None)
    if member_count is None:
        member_count = channel.memberships.count()
    return {
        "id": channel.pk,
        "name": channel.name,
        "slug": channel.slug,
        "description": channel.description,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "created_at": timestamp(channel.created_at),
        "member_count": member_count,
    }


def membership_data(membership: Membership) -> dict[str, Any]:
    return {"user": user_public(membership.user), "role": membership.role, "joined_at": timestamp(membership.joined_at)}
