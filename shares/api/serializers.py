"""Request and response shapes of the shares API.

Response serializers declare the fields for the OpenAPI schema and render through
`shares.payloads`, the functions the `share:<token>` topic uses, so an object reads the
same over REST and WebSocket. Request serializers validate REST bodies and, with
`context={"typed": True}`, the matching WebSocket payloads (strict JSON types).
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import PublicUserSerializer
from config.api import IdField, TypedBooleanField, TypedCharField
from config.errors import Invalid
from shares import payloads
from shares.models import (
    COMMENT_NAME_MAX_LENGTH,
    GOAL_TITLE_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    Goal,
    Share,
)

# -- fields ------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A decimal number; typed input must be a JSON number ("5" and true are refused there).
    Ranges and precision are the service's rules."""

    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or (self.context.get("typed") and not isinstance(data, int | float)):
            self.fail("invalid")
        try:
            number = Decimal(str(data))
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not number.is_finite():
            self.fail("invalid")
        return number

    def to_representation(self, value: Any) -> Any:
        return payloads.number(value)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": ["all"]},
            {"type": "array", "items": {"type": "integer"}},
        ],
        "description": 'Every goal of yours ("all") or the ids of the goals shown.',
    }
)
class GoalScopeField(serializers.Field):
    default_error_messages = {"invalid": 'Must be "all" or a list of goal ids.'}

    def to_internal_value(self, data: Any) -> Any:
        if data == "all":
            return "all"
        if not isinstance(data, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in data):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """A WebSocket payload part as `serializer_class` validates it (typed), or Invalid naming each field."""
    if not isinstance(data, dict):
        raise Invalid(fields={"data": "Must be an object."})
    serializer = serializer_class(data=data, context={"typed": True})
    if not serializer.is_valid():
        problems = {}
        for name, problem in serializer.errors.items():
            while isinstance(problem, list | dict) and problem:
                problem = problem[0] if isinstance(problem, list) else next(iter(problem.values()))
            problems[name] = str(problem)
        raise Invalid(fields=problems)
    return dict(serializer.validated_data)


# -- responses ---------------------------------------------------------------------


class GoalSerializer(serializers.Serializer):
    """A goal (G)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    unit = serializers.CharField()
    target = serializers.FloatField(allow_null=True)
    current = serializers.FloatField()
    due_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Goal.Status.choices)
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.goal_data(instance)


class EntrySerializer(serializers.Serializer):
    """A progress entry (P): `value` is the goal's current value after it, `delta` the change."""

    id = serializers.IntegerField()
    goal_id = serializers.IntegerField()
    value = serializers.FloatField()
    delta = serializers.FloatField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.entry_data(instance)


class ReflectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.reflection_data(instance)


class ShareSerializer(serializers.Serializer):
    """A share as its owner sees it (S): the full viewer link, never the password."""

    id = serializers.IntegerField()
    token = serializers.CharField()
    url = serializers.URLField(help_text="The viewer link to send.")
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=Share.Kind.choices)
    is_active = serializers.BooleanField(help_text="False once ended or expired.")
    expires_at = serializers.DateTimeField(allow_null=True)
    goals = GoalScopeField()
    show_progress = serializers.BooleanField()
    show_reflections = serializers.BooleanField()
    allow_comments = serializers.BooleanField()
    allow_anonymous_comments = serializers.BooleanField()
    comment_interval = serializers.IntegerField(help_text="Seconds between two comments of one viewer; 0 is off.")
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        request = self.context["request"]
        return payloads.share_data(instance, base_url=request.build_absolute_uri("/"))


class CommentSerializer(serializers.Serializer):
    """A viewer comment (C). Never the author's e-mail, nor a user id."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    is_owner = serializers.BooleanField(help_text="Written by the share's owner.")
    hidden = serializers.BooleanField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.comment_data(instance)


class OwnerCommentSerializer(CommentSerializer):
    """A comment in the owner's moderation list: hidden ones keep their text."""

    hidden_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.comment_data_for_owner(instance)


class RoomSerializer(serializers.Serializer):
    """Who is watching (R)."""

    viewers = serializers.IntegerField(help_text="Signed-in viewers plus anonymous connections; not the owner.")
    owner_online = serializers.BooleanField()
    online = serializers.ListField(
        child=serializers.DictField(), help_text='Up to 100 `{"id", "name", "role"}`, the owner first.'
    )


class ShareViewSerializer(serializers.Serializer):
    """What a viewer sees: the same object as the join reply's `share`, plus `room`."""

    title = serializers.CharField()
    owner = PublicUserSerializer()
    goals = GoalSerializer(many=True)
    progress = EntrySerializer(many=True, help_text="The last 50, newest last; empty when progress is hidden.")
    reflections = ReflectionSerializer(many=True, required=False, help_text="Only when the share shows them.")
    allow_comments = serializers.BooleanField()
    allow_anonymous_comments = serializers.BooleanField()
    comment_interval = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    room = RoomSerializer()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return dict(instance)


# -- requests ----------------------------------------------------------------------


class GoalCreateSerializer(serializers.Serializer):
    title = TypedCharField(
        trim_whitespace=False, allow_blank=True, help_text=f"1 to {GOAL_TITLE_MAX_LENGTH} characters after trimming."
    )
    description = TypedCharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    unit = TypedCharField(required=False, allow_blank=True, default="", help_text='e.g. "km", "pages".')
    target = NumberField(required=False, allow_null=True, default=None, help_text="Greater than 0.")
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class GoalUpdateSerializer(serializers.Serializer):
    title = TypedCharField(required=False, trim_whitespace=False, allow_blank=True)
    description = TypedCharField(required=False, allow_blank=True, trim_whitespace=False)
    unit = TypedCharField(required=False, allow_blank=True)
    target = NumberField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=Goal.Status.choices, required=False)


class ProgressCreateSerializer(serializers.Serializer):
    value = NumberField(required=False, help_text="The goal's new current value (or give delta).")
    delta = NumberField(required=False, help_text="What to add to the current value (or give value).")
    note = TypedCharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class ReflectionCreateSerializer(serializers.Serializer):
    text = TypedCharField(trim_whitespace=False, allow_blank=True, help_text="1 to 2000 characters.")


class ShareSettingsSerializer(serializers.Serializer):
    title = TypedCharField(trim_whitespace=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Share.Kind.choices, default=Share.Kind.PUBLIC)
    password = TypedCharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text=f"For a password share, at least {PASSWORD_MIN_LENGTH} characters; never returned.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    goals = GoalScopeField(required=False, default="all")
    show_progress = TypedBooleanField(required=False, default=True)
    show_reflections = TypedBooleanField(required=False, default=False)
    allow_comments = TypedBooleanField(required=False, default=True)
    allow_anonymous_comments = TypedBooleanField(required=False, default=True)
    comment_interval = IdField(required=False, default=0, min_value=0, help_text="Seconds; 0 is off.")


class ShareCreateSerializer(ShareSettingsSerializer):
    """`POST /api/shares/`."""


class ShareUpdateSerializer(ShareSettingsSerializer):
    """`PATCH /api/shares/<id>/`: any of the settings; a new password removes current viewers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class CommentCreateSerializer(serializers.Serializer):
    """`comment.create` and `POST /api/s/<token>/comments/`."""

    message = TypedCharField(trim_whitespace=False, allow_blank=True, help_text="1 to 200 characters after trimming.")
    name = TypedCharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        max_length=COMMENT_NAME_MAX_LENGTH,
        help_text='Shown for anonymous viewers (default "Anonymous"); signed-in viewers show their name.',
    )


class CommentRefSerializer(serializers.Serializer):
    """`comment.hide`: `{"id"}`."""

    id = IdField()


class ViewerKickSerializer(serializers.Serializer):
    """`viewer.kick`: `{"viewer"}`, an `online[].id` of the room summary."""

    viewer = TypedCharField(max_length=400)


class ProgressPublishSerializer(serializers.Serializer):
    """`progress.publish`: `{"type", "data"}`."""

    type = serializers.ChoiceField(choices=["progress", "reflection", "goal"])

    def get_fields(self) -> dict[str, serializers.Field]:
        # `data` is the serializer's own property, so it cannot be declared as a class attribute.
        return {**super().get_fields(), "data": serializers.DictField()}


class GoalRefProgressSerializer(ProgressCreateSerializer):
    goal = IdField()


class GoalRefUpdateSerializer(GoalUpdateSerializer):
    goal = IdField()
