"""Reads of notifications, each scoped to the recipient."""

from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from accounts.models import User
from notifications.models import Notification, NotificationActor, Preference

LATEST = 10


def _with_actors(qs: QuerySet[Notification]) -> QuerySet[Notification]:
    links = NotificationActor.objects.select_related("user").order_by("pk")
    return qs.prefetch_related(Prefetch("actor_links", queryset=links))


def notification_list(*, user: User, unread: bool | None = None, kind: str | None = None) -> QuerySet[Notification]:
    """The user's visible (not hidden) notifications, newest first, with their actors;
    `unread` keeps only unread (True) or read (False) ones, `kind` one kind."""
    qs = Notification.objects.filter(recipient=user, deleted_at__isnull=True)
    if unread is not None:
        qs = qs.filter(read_at__isnull=unread)
    if kind:
        qs = qs.filter(kind=kind)
    return _with_actors(qs.order_by("-created_at", "-id"))


def notification_get(*, notification_id: int) -> Notification:
    """One notification with its actors (for publishing after a change)."""
    return _with_actors(Notification.objects.filter(pk=notification_id)).get()


def notification_list_by_ids(*, ids: list[int], chunk: int = 10_000) -> list[Notification]:
    """Notifications by id with their actors, by id, for publishing them after a bulk change
    (read in chunks: SQLite caps the parameters of one statement)."""
    ids = sorted(ids)
    rows: list[Notification] = []
    for start in range(0, len(ids), chunk):
        rows += _with_actors(Notification.objects.filter(pk__in=ids[start : start + chunk]).order_by("pk"))
    return rows


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True, deleted_at__isnull=True).count()


def unread_counts(*, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Notifications' part of each user's inbox `unread` object: `{"notifications": n}`."""
    counts = dict(
        Notification.objects.filter(recipient_id__in=user_ids, read_at__isnull=True, deleted_at__isnull=True)
        .order_by()
        .values("recipient_id")
        .annotate(n=Count("pk"))
        .values_list("recipient_id", "n")
    )
    return {user_id: {"notifications": counts.get(user_id, 0)} for user_id in user_ids}


def muted_kinds(*, user: User | int) -> list[str]:
    user_id = user if isinstance(user, int) else user.pk
    value = Preference.objects.filter(user_id=user_id).values_list("muted_kinds", flat=True).first()
    return list(value or [])
