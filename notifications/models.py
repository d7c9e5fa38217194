"""Notifications: system messages for one user, with read state, coalescing and retraction."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 2000
GROUP_KEY_MAX_LENGTH = 200
# In a title, replaced by the actors' names: "Ann", "Ann and Ben", "Ann and 2 others".
ACTORS = "{actors}"


class Kind(models.TextChoices):
    ACHIEVEMENT = "achievement"
    PURCHASE = "purchase"
    FOLLOW = "follow"
    FRIEND = "friend"
    TASK = "task"
    SYSTEM = "system"


# Kinds a user may mute: everything but staff broadcasts.
MUTABLE_KINDS = tuple(kind for kind in Kind.values if kind != Kind.SYSTEM)


class Notification(models.Model):
    """One notification of one recipient. Hidden ones (`deleted_at`) stay for the admin.

    With a `group_key`, a later notification with the same key coalesces into this one
    while it is unread (its actors grow and its title is rendered again from
    `title_template`). `source` is the object it is about, for retraction.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    title_template = models.CharField(
        max_length=TITLE_MAX_LENGTH, blank=True, help_text=f"The title with {ACTORS} for the actors' names."
    )
    body = models.TextField(max_length=BODY_MAX_LENGTH, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actors = models.ManyToManyField(settings.AUTH_USER_MODEL, through="NotificationActor", related_name="+", blank=True)
    group_key = models.CharField(max_length=GROUP_KEY_MAX_LENGTH, blank=True)
    source_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    source_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The newest-first list of a recipient's visible notifications.
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="notification_list",
            ),
            # The unread count per recipient, and the unread one of a group key to coalesce into.
            models.Index(
                fields=["recipient", "group_key"],
                condition=Q(read_at__isnull=True, deleted_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(fields=["source_type", "source_id"], name="notification_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationActor(models.Model):
    """A user a notification is about, in the order they came (the first is named first)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="actor_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["notification", "user"], name="notification_actor_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.notification_id}"


class Preference(models.Model):
    """The kinds a user does not want notifications of (never `system`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    muted_kinds = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} mutes {', '.join(self.muted_kinds) or 'nothing'}"
