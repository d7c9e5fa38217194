"""Goals, progress entries, reflections, shares and the comments viewers leave on them."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from realtime.api import topic_name

GOAL_TITLE_MAX_LENGTH = 120
GOAL_DESCRIPTION_MAX_LENGTH = 2000
GOAL_UNIT_MAX_LENGTH = 20
NOTE_MAX_LENGTH = 500
REFLECTION_MAX_LENGTH = 2000
SHARE_TITLE_MAX_LENGTH = 120
COMMENT_MAX_LENGTH = 200
COMMENT_NAME_MAX_LENGTH = 40
ANONYMOUS_NAME = "Anonymous"
PASSWORD_MIN_LENGTH = 4
MAX_DIGITS = 14
DECIMAL_PLACES = 2
# What the moderators group (accounts.roles) may do with shares in the admin, as (app_label, codename).
MODERATOR_PERMISSIONS = [
    ("shares", "view_share"),
    ("shares", "view_sharecomment"),
    ("shares", "moderate_sharecomment"),
]


def new_token() -> str:
    """32 URL-safe characters from 192 random bits."""
    return secrets.token_urlsafe(24)


def share_topic(token: str) -> str:
    """The realtime topic of a share, `share:<token>`."""
    return topic_name("share", token)


class Goal(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        ARCHIVED = "archived", "Archived"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=GOAL_TITLE_MAX_LENGTH)
    description = models.TextField(max_length=GOAL_DESCRIPTION_MAX_LENGTH, blank=True)
    unit = models.CharField(max_length=GOAL_UNIT_MAX_LENGTH, blank=True, help_text='e.g. "km" or "pages".')
    target = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True)
    current = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal(0))
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # When the current value first reached the target (`goal_reached` is sent once).
    reached_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "created_at"], name="shares_goal_owner_idx")]

    def __str__(self) -> str:
        return self.title


class ProgressEntry(models.Model):
    """One recorded step: `value` is the goal's current value after it, `delta` the change."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="entries")
    value = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    delta = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "progress entries"
        indexes = [models.Index(fields=["goal", "created_at"], name="shares_entry_goal_idx")]

    def __str__(self) -> str:
        return f"{self.goal_id}: {self.value}"


class Reflection(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reflections")
    text = models.TextField(max_length=REFLECTION_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "created_at"], name="shares_reflection_owner_idx")]

    def __str__(self) -> str:
        return self.text[:40]


class Share(models.Model):
    """A link through which anyone holding the token follows the owner's goals live."""

    class Kind(models.TextChoices):
        PUBLIC = "public", "Public"
        PASSWORD = "password", "Password"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    title = models.CharField(max_length=SHARE_TITLE_MAX_LENGTH)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    # Django's password hash; the plain text is never stored or returned.
    password = models.CharField(max_length=128, blank=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Off: the share has ended; its link stops working.")
    expires_at = models.DateTimeField(null=True, blank=True)
    all_goals = models.BooleanField(default=True, help_text="Every goal of the owner, or only the chosen ones.")
    goals = models.ManyToManyField(Goal, blank=True, related_name="shares")
    show_progress = models.BooleanField(default=True)
    show_reflections = models.BooleanField(default=False)
    allow_comments = models.BooleanField(default=True)
    allow_anonymous_comments = models.BooleanField(default=True)
    comment_interval = models.PositiveIntegerField(default=0, help_text="Seconds between two comments of one viewer.")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "is_active"], name="shares_share_owner_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def topic_key(self) -> str:
        return share_topic(self.token)

    @property
    def is_live(self) -> bool:
        """Active and not expired: the link works."""
        return self.is_active and (self.expires_at is None or self.expires_at > timezone.now())


class ShareComment(models.Model):
    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="share_comments"
    )
    name = models.CharField(max_length=COMMENT_NAME_MAX_LENGTH)
    message = models.CharField(max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    # Soft-hidden by the owner or a moderator: kept, never shown to viewers again.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("moderate_sharecomment", "Can hide and restore share comments")]
        indexes = [
            models.Index(
                fields=["share", "created_at"], condition=Q(hidden_at__isnull=True), name="shares_comment_visible_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.message[:40]}"

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class ShareStreamItem(models.Model):
    """What a stored event of a share's stream was about, so it can be redacted later.

    When a goal leaves a share's scope, reflections stop being shown, or a comment is
    hidden, the events that carried them are rewritten: a viewer resuming with `since`
    must not be replayed what the share no longer shows.
    """

    class Kind(models.TextChoices):
        GOAL = "goal"
        PROGRESS = "progress"
        REFLECTION = "reflection"
        COMMENT = "comment"

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="stream_items")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    goal = models.ForeignKey(Goal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    object_id = models.BigIntegerField(null=True, blank=True, help_text="The reflection, entry or comment id.")

    class Meta:
        ordering = ["share", "seq"]
        indexes = [models.Index(fields=["share", "kind", "object_id"], name="shares_item_object_idx")]

    def __str__(self) -> str:
        return f"{self.share_id}/{self.seq} {self.kind}"
