"""Channels, memberships, channel messages with their edit history, and direct messages."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from realtime.api import topic_name

BODY_MAX_LENGTH = 4000
CLIENT_ID_MAX_LENGTH = 64
CHANNEL_NAME_MAX_LENGTH = 80
CHANNEL_SLUG_MAX_LENGTH = 80
CHANNEL_DESCRIPTION_MAX_LENGTH = 500
# What the moderators group (accounts.roles) may do with chat in the admin, as
# (app_label, codename). Direct messages are left out on purpose: only superusers see them.
MODERATOR_PERMISSIONS = [
    ("chat", "view_channel"),
    ("chat", "change_channel"),
    ("chat", "view_membership"),
    ("chat", "add_membership"),
    ("chat", "delete_membership"),
    ("chat", "view_message"),
    ("chat", "moderate_message"),
    ("chat", "view_messageedit"),
    # To pick users when adding a member.
    ("accounts", "view_user"),
]


def channel_topic(channel_id: int) -> str:
    """The realtime topic of a channel, `chat:<id>`."""
    return topic_name("chat", channel_id)


class Channel(models.Model):
    """A team chat room. Public ones are open to every signed-in user, private ones to members."""

    name = models.CharField(max_length=CHANNEL_NAME_MAX_LENGTH)
    slug = models.SlugField(max_length=CHANNEL_SLUG_MAX_LENGTH, unique=True)
    description = models.CharField(max_length=CHANNEL_DESCRIPTION_MAX_LENGTH, blank=True)
    is_private = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False, help_text="Archived channels keep their history read-only.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["is_private", "name"], name="chat_channel_visible_idx")]

    def __str__(self) -> str:
        return f"#{self.name}"

    @property
    def topic_key(self) -> str:
        return channel_topic(self.pk)


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        ADMIN = "admin", "Admin"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    # The channel message seq up to which this member has read (shared by all their devices).
    last_read_seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["channel", "user"], name="chat_membership_unique")]
        # The unique constraint indexes (channel, user); this one serves "the channels of a user".
        indexes = [models.Index(fields=["user", "channel"], name="chat_membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.channel_id} ({self.role})"


class MessageBase(models.Model):
    """What channel messages and direct messages share: text, idempotency key, edit and soft delete."""

    body = models.TextField()
    client_id = models.CharField(max_length=CLIENT_ID_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Soft delete: the body stays for moderators; everyone else sees a deleted message.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # [topic, seq] of each stored event that carried this message's text, so an edit or a
    # delete can redact them: clients resuming later must not be replayed the old text.
    stream_events = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Message(MessageBase):
    """A channel message. `seq` is the channel stream's seq of its `message.created` event."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    # 1, 2, 3... within the channel, in seq order: the messages after a read mark are the head's
    # number minus the number at the mark, so unread counts need no scan of the unread rows.
    number = models.BigIntegerField(default=0, editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["channel", "seq"]
        permissions = [("moderate_message", "Can edit, delete and restore other people's messages")]
        constraints = [
            # Also the index for history pages and unread counts (channel, seq > mark).
            models.UniqueConstraint(fields=["channel", "seq"], name="chat_message_unique_seq"),
            models.UniqueConstraint(fields=["author", "client_id"], name="chat_message_unique_client_id"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="chat_message_created_idx"),
            # Unread counts subtract, after the read mark, the deleted messages and one's own.
            models.Index(
                fields=["channel", "seq"], condition=Q(deleted_at__isnull=False), name="chat_message_deleted_idx"
            ),
            models.Index(
                fields=["author", "channel", "seq"], condition=Q(deleted_at__isnull=True), name="chat_message_own_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.channel_id}/{self.seq} by {self.author_id}"


class MessageEdit(models.Model):
    """A previous body of an edited message, kept for moderators."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    edited_at = models.DateTimeField(default=timezone.now)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["message", "edited_at", "id"]

    def __str__(self) -> str:
        return f"Edit of {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class DirectMessage(MessageBase):
    """A message between two friends; both parties' inboxes carry its events."""

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_dms")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="received_dms")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_id"], name="chat_dm_unique_client_id"),
            models.CheckConstraint(condition=~Q(sender=models.F("recipient")), name="chat_dm_not_self"),
        ]
        indexes = [
            # History between two users by time, one direction each; with the first column
            # alone they also serve "conversations of a user" (sent and received).
            models.Index(fields=["sender", "recipient", "created_at"], name="chat_dm_pair_time_idx"),
            models.Index(fields=["recipient", "sender", "created_at"], name="chat_dm_pair_rev_time_idx"),
            # Unread for a recipient: only the rows that still count.
            models.Index(
                fields=["recipient", "sender"],
                condition=Q(read_at__isnull=True, deleted_at__isnull=True),
                name="chat_dm_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"DM {self.pk} {self.sender_id} -> {self.recipient_id}"
