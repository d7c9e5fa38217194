"""Request and response shapes of the notifications API; the read serializer also validates
the inbox's `notifications.read` payload."""

from typing import Any

from rest_framework import serializers

from accounts.api.serializers import PublicUserSerializer
from config.api import IdField, TypedBooleanField, TypedCharField
from notifications import payloads
from notifications.models import BODY_MAX_LENGTH, GROUP_KEY_MAX_LENGTH, MUTABLE_KINDS, TITLE_MAX_LENGTH, Kind

READ_MAX_IDS = 500
SEND_MAX_USERS = 100_000


class NotificationSerializer(serializers.Serializer):
    """A notification (N)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.CharField()
    body = serializers.CharField()
    actors = PublicUserSerializer(many=True, help_text="The users it is about, the first one first.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="Changes when later ones coalesce into it.")
    read = serializers.BooleanField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # `data` would shadow Serializer.data, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        ordered = {name: fields.pop(name) for name in ("id", "kind", "title", "body")}
        ordered["data"] = serializers.DictField(help_text="Whatever the sender attached (e.g. the work, the task).")
        ordered.update(fields)
        return ordered

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.notification_data(instance)


class NotificationListQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="1: only unread ones; 0: only read ones."
    )
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)


class NotificationReadSerializer(serializers.Serializer):
    """`{"ids": [...]}` or `{"all": true}`; ids that are not yours or unknown are ignored."""

    ids = serializers.ListField(child=IdField(), required=False, max_length=READ_MAX_IDS)
    all = TypedBooleanField(required=False, default=False, help_text="Mark every unread notification read.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and "ids" not in attrs:
            raise serializers.ValidationError({"ids": "Give ids, or all: true."})
        return attrs


class NotificationReadResultSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="The notifications that became read.")
    count = serializers.IntegerField(help_text="Your unread notifications now.")


class UnreadCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class PreferenceSerializer(serializers.Serializer):
    muted_kinds = serializers.ListField(
        child=TypedCharField(),
        max_length=len(MUTABLE_KINDS),
        help_text=f"Kinds not to be notified of: any of {', '.join(MUTABLE_KINDS)} (system is never muted).",
    )


class SendSerializer(serializers.Serializer):
    """The trigger API's body."""

    users = serializers.JSONField(help_text='A list of user ids, or "all" for every active user.')
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=BODY_MAX_LENGTH)
    group_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=GROUP_KEY_MAX_LENGTH)

    def get_fields(self) -> dict[str, serializers.Field]:
        # `data` would shadow Serializer.data, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["data"] = serializers.DictField(required=False, default=dict, help_text="Any JSON object.")
        return fields

    def validate_users(self, value: Any) -> list[int] | None:
        if value == "all":
            return None
        if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
            raise serializers.ValidationError('A list of user ids, or "all".')
        if len(value) > SEND_MAX_USERS:
            raise serializers.ValidationError(f'At most {SEND_MAX_USERS} ids; send "all" for everyone.')
        return value


class SendResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Notifications stored (muted recipients are left out).")
