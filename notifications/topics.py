"""Notifications' part of the `inbox` topic (docs/protocol.md 4.2): the `notifications.read`
send event and the `notifications` counter of the one `unread` object."""

from typing import Any

from accounts.models import User
from notifications import selectors, services
from notifications.api.serializers import NotificationReadSerializer
from realtime.api import Event, InboxPart, SendContext


def _read(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    user = ctx.require_user()
    assert isinstance(user, User)
    changed = services.notifications_mark_read(user=user, ids=data.get("ids"), everything=data["all"])
    return {"ids": changed}


class NotificationsInboxPart(InboxPart):
    """`notifications.read` `{"ids"}` or `{"all": true}` (reply `{"ids": [the ids that changed]}`),
    and each user's unread notification count; its events go to the user's inbox stream."""

    name = "notifications"
    events = {"notifications.read": Event(_read, NotificationReadSerializer)}

    def counters(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        return selectors.unread_counts(user_ids=user_ids)
