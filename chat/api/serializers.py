"""Request and response shapes of the chat API.

Response serializers declare the fields for the OpenAPI schema and render through
the selectors' `message_data`/`dm_data`/`channel_data`, the same functions the
realtime topics use, so an object reads the same over REST and WebSocket.
"""

from typing import Any

from rest_framework import serializers

from accounts.api.serializers import PublicUserSerializer
from chat import payloads
from chat.models import (
    BODY_MAX_LENGTH,
    CHANNEL_DESCRIPTION_MAX_LENGTH,
    CHANNEL_NAME_MAX_LENGTH,
    CHANNEL_SLUG_MAX_LENGTH,
    CLIENT_ID_MAX_LENGTH,
    Membership,
)
from config.api import MAX_ID, IdField, TypedBooleanField, TypedCharField, plain_text

MAX_PAGE = 200

BODY_HELP = f"1 to {BODY_MAX_LENGTH} characters after trimming."
CLIENT_ID_HELP = (
    f"1 to {CLIENT_ID_MAX_LENGTH} characters chosen by the client; sending again with the same one "
    "returns the first message and creates nothing."
)


# -- responses -------------------------------------------------------------------


class MessageSerializer(serializers.Serializer):
    """A channel message (M). A deleted message has an empty body and `deleted` true."""

    id = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="The channel stream's seq of the message's creation.")
    channel = serializers.IntegerField(help_text="Channel id.")
    author = PublicUserSerializer()
    body = serializers.CharField()
    client_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.message_data(instance)


class DirectMessageSerializer(serializers.Serializer):
    """A direct message (D), with `from` and `to` users. A deleted one has an empty body."""

    id = serializers.IntegerField()
    to = PublicUserSerializer()
    body = serializers.CharField()
    client_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        ordered = {"id": fields.pop("id"), "from": PublicUserSerializer()}
        ordered.update(fields)
        return ordered

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.dm_data(instance)


class ChannelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    description = serializers.CharField()
    is_private = serializers.BooleanField()
    is_archived = serializers.BooleanField(help_text="Archived channels are read-only.")
    created_at = serializers.DateTimeField()
    member_count = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.channel_data(instance)


class MemberSerializer(serializers.Serializer):
    user = PublicUserSerializer()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    joined_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.membership_data(instance)


class ConversationSerializer(serializers.Serializer):
    """A friend you have exchanged direct messages with."""

    user = PublicUserSerializer()
    last_message = DirectMessageSerializer(allow_null=True)
    unread_count = serializers.IntegerField(help_text="Their messages to you that you have not read.")
    is_online = serializers.BooleanField(help_text="They have a connection open right now.")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return instance  # already built by selectors.conversation_entries


class MessagePageSerializer(serializers.Serializer):
    """A page of a history, oldest first, with links to the older and the newer page (null at either end)."""

    results = MessageSerializer(many=True)
    previous = serializers.URLField(allow_null=True, help_text="The page of older messages.")
    next = serializers.URLField(allow_null=True, help_text="The page of newer messages.")


class DirectMessagePageSerializer(serializers.Serializer):
    """A page of a conversation, oldest first, with links to the older and the newer page (null at either end)."""

    results = DirectMessageSerializer(many=True)
    previous = serializers.URLField(allow_null=True, help_text="The page of older messages.")
    next = serializers.URLField(allow_null=True, help_text="The page of newer messages.")


class ChannelReadResultSerializer(serializers.Serializer):
    last_read_seq = serializers.IntegerField(help_text="Your read mark in this channel now.")
    unread_count = serializers.IntegerField(help_text="Messages still unread in this channel.")


class DirectMessageReadResultSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(help_text="Their messages up to this id are read.")
    marked = serializers.IntegerField(help_text="How many became read with this request.")


# -- requests --------------------------------------------------------------------


class ChannelListQuerySerializer(serializers.Serializer):
    joined = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only channels you are (true) or are not (false) in."
    )
    archived = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, allow_blank=True, max_length=80, help_text="Name or slug prefix.")


class ChannelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=CHANNEL_NAME_MAX_LENGTH)
    slug = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=CHANNEL_SLUG_MAX_LENGTH,
        help_text="Unique; made from the name when left out.",
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=CHANNEL_DESCRIPTION_MAX_LENGTH
    )
    is_private = serializers.BooleanField(required=False, default=False)


class ChannelUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=CHANNEL_NAME_MAX_LENGTH)
    description = serializers.CharField(required=False, allow_blank=True, max_length=CHANNEL_DESCRIPTION_MAX_LENGTH)
    is_private = serializers.BooleanField(required=False)
    is_archived = serializers.BooleanField(required=False, help_text="Archive (read-only) or unarchive.")


class MemberAddSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class HistoryQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="Only messages before this cursor."
    )
    after = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="Only messages after this cursor."
    )
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=MAX_PAGE)


class MessageCreateSerializer(serializers.Serializer):
    # Content rules are the service's, so REST and WebSocket refuse the same way and in the same order.
    body = TypedCharField(allow_blank=True, trim_whitespace=False, help_text=BODY_HELP)
    client_id = TypedCharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text=CLIENT_ID_HELP + " Made up when left out."
    )

    @staticmethod
    def plainly_valid_data(payload: dict[str, Any]) -> dict[str, Any] | None:
        """The validated data of a typed payload whose fields are plain strings (what `is_valid`
        accepts: strings without NUL or surrogate characters, `client_id` optional), without
        building a serializer: the path of every chat message. None for anything else.
        (Subclasses with more fields do not use it: see `message.create` in chat.topics.)"""
        body = payload.get("body")
        if not plain_text(body):
            return None
        if "client_id" not in payload:
            return {"body": body}
        client_id = payload["client_id"]
        return {"body": body, "client_id": client_id} if plain_text(client_id) else None


class MessageUpdateSerializer(serializers.Serializer):
    body = TypedCharField(allow_blank=True, trim_whitespace=False, help_text=BODY_HELP)


class ChannelReadSerializer(serializers.Serializer):
    seq = IdField(
        required=False, allow_null=True, default=None, help_text="Read up to this seq; the last message when left out."
    )


class DirectMessageReadSerializer(serializers.Serializer):
    up_to = IdField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Mark their messages up to this id; all of them when left out.",
    )


# -- WebSocket payloads: the REST request bodies plus what the URL carries there ----


class MessageRefSerializer(serializers.Serializer):
    """`message.delete`, `dm.delete`: `{"id"}`."""

    id = IdField()


class MessageChangeSerializer(MessageUpdateSerializer):
    """`message.update`, `dm.update`: `{"id", "body"}`."""

    id = IdField()


class TypingSerializer(serializers.Serializer):
    """`typing`: `{"typing"}`."""

    typing = TypedBooleanField()


class DirectMessageSendSerializer(MessageCreateSerializer):
    """`dm.send`: `{"to", "body", "client_id"}`."""

    to = IdField()


class DirectMessageTypingSerializer(TypingSerializer):
    """`dm.typing`: `{"to", "typing"}`."""

    to = IdField()


class DirectMessageMarkReadSerializer(DirectMessageReadSerializer):
    """`dm.read`: `{"with", "up_to"?}`."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # `with` is a Python keyword, so it cannot be declared as a class attribute.
        return {"with": IdField(), **super().get_fields()}
