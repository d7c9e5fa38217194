"""How shares' rows become the protocol's objects (docs/protocol.md 4.3): G, P, R, C, S.

The one place for it: services publish these, the topic replies with them and the REST
serializers render through them, so an object reads the same over REST and WebSocket.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the same text DRF writes for its own datetimes."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def number(value: Decimal | None) -> int | float | None:
    """Decimals as JSON numbers: whole ones as integers."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def goal_data(goal: Goal) -> dict[str, Any]:
    """The protocol's G."""
    return {
        "id": goal.pk,
        "title": goal.title,
        "description": goal.description,
        "unit": goal.unit,
        "target": number(goal.target),
        "current": number(goal.current),
        "due_date": day(goal.due_date),
        "status": goal.status,
        "updated_at": timestamp(goal.updated_at),
    }


def entry_data(entry: ProgressEntry) -> dict[str, Any]:
    """The protocol's P."""
    return {
        "id": entry.pk,
        "goal_id": entry.goal_id,
        "value": number(entry.value),
        "delta": number(entry.delta),
        "note": entry.note,
        "created_at": timestamp(entry.created_at),
    }


def reflection_data(reflection: Reflection) -> dict[str, Any]:
    """The protocol's R (a reflection; not the room summary)."""
    return {"id": reflection.pk, "text": reflection.text, "created_at": timestamp(reflection.created_at)}


def comment_data(comment: ShareComment) -> dict[str, Any]:
    """The protocol's C. A hidden comment has an empty message; never the author's e-mail or id."""
    return {
        "id": comment.pk,
        "name": comment.name,
        "message": "" if comment.is_hidden else comment.message,
        "created_at": timestamp(comment.created_at),
        "is_owner": comment.author_id is not None and comment.author_id == comment.share.owner_id,
        "hidden": comment.is_hidden,
    }


def comment_data_for_owner(comment: ShareComment) -> dict[str, Any]:
    """C as the share's owner sees it in the moderation list: hidden ones keep their text, marked."""
    return {**comment_data(comment), "message": comment.message, "hidden_at": timestamp(comment.hidden_at)}


def share_data(share: Share, *, base_url: str) -> dict[str, Any]:
    """The owner's view of a share (S); `base_url` is the site's origin, for the full viewer link."""
    goals: str | list[int] = "all" if share.all_goals else sorted(goal.pk for goal in share.goals.all())
    return {
        "id": share.pk,
        "token": share.token,
        "url": f"{base_url.rstrip('/')}/s/{share.token}/",
        "title": share.title,
        "kind": share.kind,
        "is_active": share.is_live,
        "expires_at": timestamp(share.expires_at),
        "goals": goals,
        "show_progress": share.show_progress,
        "show_reflections": share.show_reflections,
        "allow_comments": share.allow_comments,
        "allow_anonymous_comments": share.allow_anonymous_comments,
        "comment_interval": share.comment_interval,
        "created_at": timestamp(share.created_at),
        "ended_at": timestamp(share.ended_at),
    }
