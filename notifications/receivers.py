"""Signals from anywhere become notifications: each receiver is a few lines calling a service.

The accounts and shares signals come after their commit; the notifications signals
(notifications/signals.py) inside the host's transaction. A failure here is logged and
never breaks the sender's write (the service's savepoint is rolled back alone).
"""

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.dispatch import Signal

from accounts import signals as accounts_signals
from accounts.models import Follow, User
from notifications import services, signals
from notifications.models import ACTORS, Kind
from shares.signals import goal_reached

logger = logging.getLogger(__name__)

FOLLOW_GROUP = "follow"


def _safely(service: Callable[..., Any], **kwargs: Any) -> None:
    try:
        service(**kwargs)
    except Exception:
        logger.exception("Storing a notification failed")


def _friend_group(friend: User) -> str:
    return f"friend:{friend.pk}"


def _task_group(task: dict[str, Any]) -> str:
    return f"task:{task['id']}"


def notify_followed(*, follower: User, followee: User, **_: Any) -> None:
    """New followers of a user coalesce while unread; a follow back becomes `friend` instead."""
    if Follow.objects.filter(follower=followee, followee=follower).exists():
        return  # friendship_formed follows and notifies both
    _safely(
        services.notification_create,
        recipient=followee,
        kind=Kind.FOLLOW,
        title=f"{ACTORS} followed you",
        actor=follower,
        group_key=FOLLOW_GROUP,
    )


def withdraw_follow(*, follower: User, followee: User, **_: Any) -> None:
    _safely(services.notification_withdraw, recipient_id=followee.pk, group_key=FOLLOW_GROUP, actor_id=follower.pk)


def notify_friends(*, user: User, friend: User, **_: Any) -> None:
    for recipient, other in ((user, friend), (friend, user)):
        _safely(
            services.notification_create,
            recipient=recipient,
            kind=Kind.FRIEND,
            title=f"You and {other.shown_name} are now friends",
            actor=other,
            group_key=_friend_group(other),
        )


def withdraw_friends(*, user: User, friend: User, **_: Any) -> None:
    for recipient, other in ((user, friend), (friend, user)):
        _safely(services.notification_withdraw, recipient_id=recipient.pk, group_key=_friend_group(other))


def notify_achievement(*, user: User, achievement: dict[str, Any], **_: Any) -> None:
    _safely(
        services.notification_create,
        recipient=user,
        kind=Kind.ACHIEVEMENT,
        title=str(achievement["name"]),
        body=str(achievement.get("description") or ""),
        data={"achievement": achievement},
        group_key=f"achievement:{achievement['id']}",
    )


def notify_purchase(*, seller: User, buyer: User, work: dict[str, Any], price: Decimal | float, **_: Any) -> None:
    _safely(
        services.notification_create,
        recipient=seller,
        kind=Kind.PURCHASE,
        title=f"{buyer.shown_name} bought {work['title']}",
        data={"work": work, "price": str(price)},
        actor=buyer,
    )


def notify_task_assigned(*, user: User, task: dict[str, Any], by: User, **_: Any) -> None:
    _safely(
        services.notification_create,
        recipient=user,
        kind=Kind.TASK,
        title=f"{by.shown_name} assigned you {task['title']}",
        data={"task": task},
        actor=by,
        group_key=_task_group(task),
    )


def notify_task_completed(*, user: User, task: dict[str, Any], by: User, **_: Any) -> None:
    _safely(
        services.notification_create,
        recipient=by,
        kind=Kind.TASK,
        title=f"{user.shown_name} completed {task['title']}",
        data={"task": task},
        actor=user,
    )


def withdraw_task(*, user: User, task: dict[str, Any], **_: Any) -> None:
    _safely(services.notification_withdraw, recipient_id=user.pk, group_key=_task_group(task))


def _number(value: Any) -> str:
    """100 for 100.00, 2.5 for 2.50: how people write a target."""
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def achievement_from_goal(*, goal: Any, **_: Any) -> None:
    """shares' `goal_reached` becomes an achievement of the goal's owner."""
    signals.achievement_unlocked.send(
        sender=type(goal),
        user=goal.owner,
        achievement={
            "id": f"goal:{goal.pk}",
            "name": f"Goal reached: {goal.title}",
            "description": f"You reached your target of {' '.join(filter(None, [_number(goal.target), goal.unit]))}.",
        },
    )


def connect() -> None:
    """Connects every receiver (from NotificationsConfig.ready()), each once by its dispatch_uid."""
    connections: list[tuple[Signal, Callable[..., None]]] = [
        (accounts_signals.user_followed, notify_followed),
        (accounts_signals.user_unfollowed, withdraw_follow),
        (accounts_signals.friendship_formed, notify_friends),
        (accounts_signals.friendship_ended, withdraw_friends),
        (signals.achievement_unlocked, notify_achievement),
        (signals.work_purchased, notify_purchase),
        (signals.task_assigned, notify_task_assigned),
        (signals.task_completed, notify_task_completed),
        (signals.task_cancelled, withdraw_task),
        (goal_reached, achievement_from_goal),
    ]
    for signal, receiver in connections:
        signal.connect(receiver, dispatch_uid=f"notifications.{receiver.__name__}")
