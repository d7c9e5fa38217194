"""Every write to notifications and preferences.

Signal receivers, REST views, the inbox part, the admin and the `notify` command call
these. Each runs in one transaction (a savepoint inside the caller's) and publishes
through `realtime.api` inside it: replayable events on the recipient's inbox are stored
with their seq in that transaction and go out after commit, so a rolled-back write
stores and pushes nothing, and a failed push never breaks the write. Services raise
`config.errors` domain errors.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from accounts.models import User
from config.errors import Invalid, NotFound
from notifications import selectors
from notifications.models import (
    ACTORS,
    BODY_MAX_LENGTH,
    GROUP_KEY_MAX_LENGTH,
    MUTABLE_KINDS,
    TITLE_MAX_LENGTH,
    Kind,
    Notification,
    NotificationActor,
    Preference,
)
from notifications.payloads import notification_data
from realtime.api import inbox_topic, publish, publish_many, unread_changed

DATA_MAX_BYTES = 8192
BULK_BATCH = 500
ID_CHUNK = 10_000


def actors_text(names: list[str]) -> str:
    """ "Ann", "Ann and Ben", "Ann and 2 others": the first actor is always named."""
    if not names:
        return "Someone"
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} and {len(names) - 1} others"


def _clean(*, kind: str, title: str, body: str, data: Any, group_key: str) -> tuple[str, str, dict[str, Any], str]:
    if kind not in Kind.values:
        raise Invalid(fields={"kind": f"One of {', '.join(Kind.values)}."})
    title = title.strip()
    if not title or len(title) > TITLE_MAX_LENGTH:
        raise Invalid(fields={"title": f"1 to {TITLE_MAX_LENGTH} characters."})
    body = body.strip()
    if len(body) > BODY_MAX_LENGTH:
        raise Invalid(fields={"body": f"At most {BODY_MAX_LENGTH} characters."})
    data = {} if data is None else data
    if not isinstance(data, dict) or len(json.dumps(data, default=str)) > DATA_MAX_BYTES:
        raise Invalid(fields={"data": f"A JSON object of at most {DATA_MAX_BYTES} bytes."})
    if len(group_key) > GROUP_KEY_MAX_LENGTH:
        raise Invalid(fields={"group_key": f"At most {GROUP_KEY_MAX_LENGTH} characters."})
    return title, body, json.loads(json.dumps(data, default=str)), group_key


def _render(notification: Notification) -> None:
    """The title from its template and the current actors (no template: the title stays)."""
    if ACTORS not in notification.title_template:
        return
    names = [link.user.shown_name for link in notification.actor_links.select_related("user").order_by("pk")]
    title = notification.title_template.replace(ACTORS, actors_text(names))
    notification.title = title[:TITLE_MAX_LENGTH]


def _publish(notification: Notification, event: str) -> None:
    payload = {"notification": notification_data(selectors.notification_get(notification_id=notification.pk))}
    publish(inbox_topic(notification.recipient_id), event, payload, replayable=True)


def _source_fields(source: models.Model | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {"source_type": ContentType.objects.get_for_model(source), "source_id": str(source.pk)}


def notification_create(
    *,
    recipient: User,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    actor: User | None = None,
    group_key: str = "",
    source: models.Model | None = None,
) -> Notification | None:
    """Notifies `recipient`; returns the notification, or None when they mute the kind.

    `title` may hold `{actors}`, rendered as the actors' names. With a `group_key`, an
    unread notification of the recipient with the same key is updated instead (the
    actor added, title, body and data replaced) and published as the replayable
    `notification.updated`; otherwise the replayable `notification.created`
    `{"notification": N}` goes to the recipient's inbox and their `unread` counters
    change on every device. Raises Invalid (kind, title, body, data, group_key).
    """
    title, body, data, group_key = _clean(kind=kind, title=title, body=body, data=data, group_key=group_key)
    if kind != Kind.SYSTEM and kind in selectors.muted_kinds(user=recipient):
        return None
    template = title if ACTORS in title else ""
    now = timezone.now()
    with transaction.atomic():
        existing = None
        if group_key:
            # Serialises this recipient's notifications of one group, so two follows at
            # once coalesce instead of both creating one.
            list(User.objects.select_for_update().filter(pk=recipient.pk).values_list("pk"))
            existing = (
                Notification.objects.select_for_update()
                .filter(recipient=recipient, group_key=group_key, read_at__isnull=True, deleted_at__isnull=True)
                .first()
            )
        if existing is not None:
            notification = existing
            notification.title, notification.title_template = title, template
            notification.body, notification.data, notification.updated_at = body, data, now
            for field, value in _source_fields(source).items():
                setattr(notification, field, value)
            event = "notification.updated"
        else:
            notification = Notification.objects.create(
                recipient=recipient,
                kind=kind,
                title=title,
                title_template=template,
                body=body,
                data=data,
                group_key=group_key,
                created_at=now,
                updated_at=now,
                **_source_fields(source),
            )
            event = "notification.created"
        if actor is not None:
            NotificationActor.objects.get_or_create(notification=notification, user=actor)
        _render(notification)
        notification.save(
            update_fields=["title", "title_template", "body", "data", "updated_at", "source_type", "source_id"]
        )
        _publish(notification, event)
        if event == "notification.created":
            unread_changed(user_ids=[recipient.pk])
    return notification


def notifications_bulk_create(
    *,
    user_ids: Iterable[int] | None,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    group_key: str = "",
) -> int:
    """Notifies many active users at once (`user_ids` None: every active user); returns
    how many notifications were stored or coalesced.

    Users who mute the kind are skipped (`system` is never muted). Rows go in with bulk
    inserts and each recipient's inbox gets one replayable `notification.created` (or
    `notification.updated` where an unread one of the same `group_key` was replaced),
    through the core's bulk stream path. Raises Invalid like `notification_create`.
    """
    title, body, data, group_key = _clean(kind=kind, title=title, body=body, data=data, group_key=group_key)
    active = User.objects.filter(is_active=True)
    if user_ids is None:
        recipients = set(active.values_list("pk", flat=True))
    else:
        wanted = sorted(set(user_ids))
        recipients = set()
        for start in range(0, len(wanted), ID_CHUNK):  # SQLite caps the parameters of one statement
            chunk = wanted[start : start + ID_CHUNK]
            recipients.update(active.filter(pk__in=chunk).values_list("pk", flat=True))
    if kind != Kind.SYSTEM:
        # Few users mute anything: read every preference that mutes something, not one per recipient.
        muting = Preference.objects.exclude(muted_kinds=[]).values_list("user_id", "muted_kinds")
        recipients -= {user_id for user_id, muted in muting.iterator() if kind in muted}
    if not recipients:
        return 0
    now = timezone.now()
    with transaction.atomic():
        replaced: dict[int, int] = {}
        if group_key:
            unread = Notification.objects.filter(group_key=group_key, read_at__isnull=True, deleted_at__isnull=True)
            replaced = {
                recipient_id: pk
                for recipient_id, pk in unread.order_by("pk").values_list("recipient_id", "pk")
                if recipient_id in recipients
            }
            ids = sorted(replaced.values())
            for start in range(0, len(ids), ID_CHUNK):
                Notification.objects.filter(pk__in=ids[start : start + ID_CHUNK]).update(
                    title=title, title_template="", body=body, data=data, updated_at=now
                )
        rows = [
            Notification(
                recipient_id=user_id,
                kind=kind,
                title=title,
                body=body,
                data=data,
                group_key=group_key,
                created_at=now,
                updated_at=now,
            )
            for user_id in sorted(recipients - set(replaced))
        ]
        created = Notification.objects.bulk_create(rows, batch_size=BULK_BATCH)
        events = [
            (inbox_topic(row.recipient_id), "notification.created", {"notification": notification_data(row, actors=[])})
            for row in created
        ]
        for row in selectors.notification_list_by_ids(ids=sorted(replaced.values())):
            events.append(
                (inbox_topic(row.recipient_id), "notification.updated", {"notification": notification_data(row)})
            )
        publish_many(events)
        unread_changed(user_ids=[row.recipient_id for row in created])
    return len(events)


def notifications_mark_read(*, user: User, ids: list[int] | None = None, everything: bool = False) -> list[int]:
    """Marks the user's notifications `ids` (or every unread one) read; returns the ids that changed.

    Other users' ids, unknown ids and ones already read are ignored, never an error.
    When any changed, the replayable `notifications.read` `{"ids": [...]}` reaches the
    user's every device and their `unread` counters change.
    """
    with transaction.atomic():
        unread = Notification.objects.filter(recipient=user, read_at__isnull=True, deleted_at__isnull=True)
        if not everything:
            unread = unread.filter(pk__in=sorted(set(ids or [])))
        changed = sorted(unread.select_for_update().values_list("pk", flat=True))
        if changed:
            now = timezone.now()
            for start in range(0, len(changed), ID_CHUNK):
                Notification.objects.filter(pk__in=changed[start : start + ID_CHUNK]).update(read_at=now)
            publish(inbox_topic(user.pk), "notifications.read", {"ids": changed}, replayable=True)
            unread_changed(user_ids=[user.pk])
    return changed


def _withdraw(notification: Notification) -> None:
    """Hides a notification and tells the recipient's devices (`notification.deleted`)."""
    was_unread = notification.read_at is None
    notification.deleted_at = timezone.now()
    notification.save(update_fields=["deleted_at"])
    publish(inbox_topic(notification.recipient_id), "notification.deleted", {"id": notification.pk}, replayable=True)
    if was_unread:
        unread_changed(user_ids=[notification.recipient_id])


def notification_hide(*, user: User, notification_id: int) -> Notification:
    """The recipient hides one of their notifications: the replayable `notification.deleted`
    `{"id"}` reaches their other devices, and the unread count drops when it was unread.
    Raises NotFound for someone else's, an unknown or an already hidden one."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, recipient=user, deleted_at__isnull=True)
            .first()
        )
        if notification is None:
            raise NotFound("No such notification.")
        _withdraw(notification)
    return notification


def notification_withdraw(*, recipient_id: int, group_key: str, actor_id: int | None = None) -> int:
    """The source of an unread notification went away (an unfollow, a cancelled task).

    With `actor_id`, that actor leaves the recipient's unread notification of `group_key`:
    the others stay (replayable `notification.updated` with the title rendered again),
    and when none is left it is withdrawn (replayable `notification.deleted`). Without
    one it is withdrawn. Read notifications stay as they are. Returns how many changed.
    """
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=recipient_id).values_list("pk"))
        unread = Notification.objects.select_for_update().filter(
            recipient_id=recipient_id, group_key=group_key, read_at__isnull=True, deleted_at__isnull=True
        )
        changed = 0
        for notification in unread:
            if actor_id is not None:
                removed, _ = NotificationActor.objects.filter(notification=notification, user_id=actor_id).delete()
                if not removed:
                    continue
                if notification.actor_links.exists():
                    _render(notification)
                    notification.updated_at = timezone.now()
                    notification.save(update_fields=["title", "updated_at"])
                    _publish(notification, "notification.updated")
                    changed += 1
                    continue
            _withdraw(notification)
            changed += 1
    return changed


def notifications_withdraw_for_source(*, source: models.Model) -> int:
    """Withdraws every unread notification about `source` (host code deleting the object);
    each recipient gets the replayable `notification.deleted`. Returns how many."""
    with transaction.atomic():
        unread = Notification.objects.select_for_update().filter(
            read_at__isnull=True, deleted_at__isnull=True, **_source_fields(source)
        )
        notifications = list(unread.order_by("pk"))
        for notification in notifications:
            _withdraw(notification)
    return len(notifications)


def preference_update(*, user: User, muted_kinds: list[str]) -> Preference:
    """Replaces the kinds the user mutes; from then on they are not stored for them.
    Raises Invalid for an unknown kind or `system` (staff broadcasts are never muted)."""
    unknown = [kind for kind in muted_kinds if kind not in MUTABLE_KINDS]
    if unknown:
        raise Invalid(fields={"muted_kinds": f"Only {', '.join(MUTABLE_KINDS)} can be muted."})
    with transaction.atomic():
        preference, _ = Preference.objects.select_for_update().get_or_create(user=user)
        preference.muted_kinds = sorted(set(muted_kinds))
        preference.save(update_fields=["muted_kinds"])
    return preference
