"""Chat REST API: validate, call one service or selector, respond.

Every write goes through the same service as its WebSocket twin, so a message sent
here is published live to every connected client.
"""

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.auth import AuthenticatedRequest, signed_in_user
from chat import payloads, selectors, services
from chat.api.serializers import (
    ChannelCreateSerializer,
    ChannelListQuerySerializer,
    ChannelReadResultSerializer,
    ChannelReadSerializer,
    ChannelSerializer,
    ChannelUpdateSerializer,
    ConversationSerializer,
    DirectMessagePageSerializer,
    DirectMessageReadResultSerializer,
    DirectMessageReadSerializer,
    DirectMessageSerializer,
    HistoryQuerySerializer,
    MemberAddSerializer,
    MemberSerializer,
    MessageCreateSerializer,
    MessagePageSerializer,
    MessageSerializer,
    MessageUpdateSerializer,
)
from chat.models import Channel, Membership
from chat.selectors import Page
from config.api import INVALID, UNAUTHORIZED, ErrorSerializer

NO_CHANNEL = OpenApiResponse(ErrorSerializer, description="No such channel, or a private one you are not in.")
NO_MESSAGE = OpenApiResponse(ErrorSerializer, description="No such message, or one you may not see.")
NO_USER = OpenApiResponse(ErrorSerializer, description="No such user.")
ARCHIVED_OR_NOT_MEMBER = OpenApiResponse(
    ErrorSerializer, description="Not a member of the channel, or the channel is archived (read-only)."
)
NOT_YOURS = OpenApiResponse(ErrorSerializer, description="Not your message (moderators excepted), or archived channel.")
DELETED = OpenApiResponse(ErrorSerializer, description="The message was deleted.")


def _history_query(request: Request) -> dict[str, Any]:
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _page_response(request: Request, page: Page, cursor: Any, render: Any, limit: int) -> Response:
    """`{"results", "previous", "next"}` with links built from the page's first and last items."""
    url = remove_query_param(remove_query_param(request.build_absolute_uri(), "before"), "after")
    url = replace_query_param(url, "limit", limit)
    previous = replace_query_param(url, "before", cursor(page.items[0])) if page.has_older else None
    newer = replace_query_param(url, "after", cursor(page.items[-1])) if page.has_newer else None
    return Response({"results": [render(item) for item in page.items], "previous": previous, "next": newer})


# -- channels --------------------------------------------------------------------


class ChannelListApi(generics.ListAPIView):
    serializer_class = ChannelSerializer

    @extend_schema(
        summary="Channels you can see",
        description="Public channels and the private ones you are in, by name.",
        parameters=[ChannelListQuerySerializer],
        responses={200: ChannelSerializer(many=True), 401: UNAUTHORIZED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Channel]:
        query = ChannelListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.channel_list_for_user(user=signed_in_user(self.request), **query.validated_data)

    @extend_schema(
        summary="Create a channel",
        description="You become its admin.",
        request=ChannelCreateSerializer,
        responses={201: ChannelSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = ChannelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = services.channel_create(user=signed_in_user(request), **serializer.validated_data)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailApi(APIView):
    @extend_schema(summary="One channel", responses={200: ChannelSerializer, 401: UNAUTHORIZED, 404: NO_CHANNEL})
    def get(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        channel = selectors.channel_get_for_user(user=request.user, channel_id=channel_id)
        return Response(ChannelSerializer(channel).data)

    @extend_schema(
        summary="Change a channel",
        description="Channel admins and moderators. Archiving makes it read-only at once for every client.",
        request=ChannelUpdateSerializer,
        responses={
            200: ChannelSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not an admin of the channel, or it is archived."),
            404: NO_CHANNEL,
        },
    )
    def patch(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        serializer = ChannelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = services.channel_update(user=request.user, channel_id=channel_id, **serializer.validated_data)
        return Response(ChannelSerializer(channel).data)


class ChannelJoinApi(APIView):
    @extend_schema(
        summary="Join a public channel",
        request=None,
        responses={
            200: OpenApiResponse(ChannelSerializer, description="You were already a member."),
            201: OpenApiResponse(ChannelSerializer, description="You are now a member."),
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="The channel is private or archived."),
            404: NO_CHANNEL,
        },
    )
    def post(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        _, created = services.channel_join(user=request.user, channel_id=channel_id)
        channel = selectors.channel_get_for_user(user=request.user, channel_id=channel_id)
        return Response(
            ChannelSerializer(channel).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ChannelLeaveApi(APIView):
    @extend_schema(
        summary="Leave a channel",
        description="Your open connections stop receiving the channel at once.",
        request=None,
        responses={
            204: OpenApiResponse(description="Left."),
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorSerializer, description="You are not a member of this channel."),
        },
    )
    def post(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        services.channel_member_remove(user=request.user, channel_id=channel_id, member_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelMemberListApi(generics.ListAPIView):
    serializer_class = MemberSerializer

    @extend_schema(
        summary="Members of a channel",
        responses={200: MemberSerializer(many=True), 401: UNAUTHORIZED, 404: NO_CHANNEL},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Membership]:
        return selectors.channel_member_list(user=signed_in_user(self.request), channel_id=self.kwargs["channel_id"])

    @extend_schema(
        summary="Add someone to a channel",
        description="Channel admins and moderators; the way into a private channel.",
        request=MemberAddSerializer,
        responses={
            201: MemberSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not an admin of the channel, or it is archived."),
            404: OpenApiResponse(ErrorSerializer, description="No such channel or user."),
            409: OpenApiResponse(ErrorSerializer, description="Already a member."),
        },
    )
    def post(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.channel_member_add(
            user=signed_in_user(request),
            channel_id=channel_id,
            member_id=serializer.validated_data["user_id"],
            role=serializer.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class ChannelMemberDetailApi(APIView):
    @extend_schema(
        summary="Remove someone from a channel",
        description="Channel admins and moderators (or the member themselves). Their connections stop "
        "receiving the channel at once.",
        request=None,
        responses={
            204: OpenApiResponse(description="Removed."),
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not an admin of the channel."),
            404: OpenApiResponse(ErrorSerializer, description="No such channel or membership."),
        },
    )
    def delete(self, request: AuthenticatedRequest, channel_id: int, user_id: int) -> Response:
        services.channel_member_remove(user=request.user, channel_id=channel_id, member_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelReadApi(APIView):
    @extend_schema(
        summary="Mark a channel read",
        description="Moves your read mark forward (never back); your other devices and inbox counters follow live.",
        request=ChannelReadSerializer,
        responses={
            200: ChannelReadResultSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not a member of the channel."),
            404: NO_CHANNEL,
        },
    )
    def post(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        serializer = ChannelReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.channel_mark_read(
            user=request.user, channel_id=channel_id, seq=serializer.validated_data["seq"]
        )
        unread = selectors.channel_unread_count(membership=membership)
        return Response({"last_read_seq": membership.last_read_seq, "unread_count": unread})


# -- channel messages ------------------------------------------------------------


class ChannelMessageListApi(APIView):
    @extend_schema(
        summary="Messages of a channel",
        description="Cursor pages by seq, oldest first: the newest page by default; `before` for older, "
        "`after` for newer messages. Deleted messages are listed as deleted, without their text.",
        parameters=[HistoryQuerySerializer],
        responses={200: MessagePageSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_CHANNEL},
    )
    def get(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        query = _history_query(request)
        page = selectors.message_page(user=request.user, channel_id=channel_id, **query)
        return _page_response(request, page, lambda m: m.seq, payloads.message_data, query["limit"])

    @extend_schema(
        summary="Send a message to a channel",
        description="Published live to every connected client (`message.created`). Idempotent by `client_id`.",
        request=MessageCreateSerializer,
        responses={
            200: OpenApiResponse(MessageSerializer, description="Sent before with this client_id; nothing created."),
            201: MessageSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: ARCHIVED_OR_NOT_MEMBER,
            404: NO_CHANNEL,
            409: OpenApiResponse(ErrorSerializer, description="The client_id was used in another channel."),
        },
    )
    def post(self, request: AuthenticatedRequest, channel_id: int) -> Response:
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message, created = services.message_create(
            user=request.user,
            channel_id=channel_id,
            body=serializer.validated_data["body"],
            client_id=serializer.validated_data.get("client_id") or uuid.uuid4().hex,
        )
        return Response(
            MessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MessageDetailApi(APIView):
    @extend_schema(
        summary="Edit a channel message",
        description="Its author, or a moderator. The previous text is kept for moderators.",
        request=MessageUpdateSerializer,
        responses={
            200: MessageSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: NOT_YOURS,
            404: NO_MESSAGE,
            409: DELETED,
        },
    )
    def patch(self, request: AuthenticatedRequest, message_id: int) -> Response:
        serializer = MessageUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_update(
            user=request.user, message_id=message_id, body=serializer.validated_data["body"]
        )
        return Response(MessageSerializer(message).data)

    @extend_schema(
        summary="Delete a channel message",
        description="Its author, or a moderator. Everyone sees it as deleted from then on.",
        request=None,
        responses={204: OpenApiResponse(description="Deleted."), 401: UNAUTHORIZED, 403: NOT_YOURS, 404: NO_MESSAGE},
    )
    def delete(self, request: AuthenticatedRequest, message_id: int) -> Response:
        services.message_delete(user=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- direct messages -------------------------------------------------------------


class ConversationListApi(generics.ListAPIView):
    serializer_class = ConversationSerializer

    @extend_schema(
        summary="Your conversations",
        description="Each friend you have exchanged direct messages with, the most recent conversation first.",
        responses={200: ConversationSerializer(many=True), 401: UNAUTHORIZED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(selectors.conversation_list(user=signed_in_user(request)))
        return self.get_paginated_response(selectors.conversation_entries(friends=page or []))


class DirectMessageListApi(APIView):
    @extend_schema(
        summary="Your conversation with a user",
        description="Cursor pages by message id, oldest first: the newest page by default. Deleted messages "
        "are listed as deleted, without their text.",
        parameters=[HistoryQuerySerializer],
        responses={200: DirectMessagePageSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_USER},
    )
    def get(self, request: AuthenticatedRequest, user_id: int) -> Response:
        query = _history_query(request)
        page = selectors.dm_page(user=request.user, other_id=user_id, **query)
        return _page_response(request, page, lambda m: m.pk, payloads.dm_data, query["limit"])

    @extend_schema(
        summary="Send a direct message",
        description="Only to friends (mutual follows). Published live to both sides' inboxes (`dm.created`); "
        "an offline friend finds it on their next connection. Idempotent by `client_id`.",
        request=MessageCreateSerializer,
        responses={
            200: OpenApiResponse(
                DirectMessageSerializer, description="Sent before with this client_id; nothing created."
            ),
            201: DirectMessageSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not friends: nothing was stored."),
            404: NO_USER,
            409: OpenApiResponse(ErrorSerializer, description="The client_id was used for someone else."),
        },
    )
    def post(self, request: AuthenticatedRequest, user_id: int) -> Response:
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message, created = services.dm_send(
            sender=request.user,
            recipient_id=user_id,
            body=serializer.validated_data["body"],
            client_id=serializer.validated_data.get("client_id") or uuid.uuid4().hex,
        )
        return Response(
            DirectMessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DirectMessageReadApi(APIView):
    @extend_schema(
        summary="Mark a conversation read",
        description="Marks their messages to you up to `up_to` as read; both sides' devices see `dm.read`.",
        request=DirectMessageReadSerializer,
        responses={200: DirectMessageReadResultSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_USER},
    )
    def post(self, request: AuthenticatedRequest, user_id: int) -> Response:
        serializer = DirectMessageReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked, up_to = services.dm_mark_read(
            user=request.user, other_id=user_id, up_to=serializer.validated_data["up_to"]
        )
        return Response({"up_to": up_to, "marked": marked})


class DirectMessageDetailApi(APIView):
    @extend_schema(
        summary="Edit a direct message",
        description="Its sender, while still friends with the recipient.",
        request=MessageUpdateSerializer,
        responses={
            200: DirectMessageSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not the sender, or no longer friends."),
            404: NO_MESSAGE,
            409: DELETED,
        },
    )
    def patch(self, request: AuthenticatedRequest, message_id: int) -> Response:
        serializer = MessageUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.dm_update(user=request.user, message_id=message_id, body=serializer.validated_data["body"])
        return Response(DirectMessageSerializer(message).data)

    @extend_schema(
        summary="Delete a direct message",
        description="Its sender. Both sides see it as deleted from then on.",
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not the sender."),
            404: NO_MESSAGE,
        },
    )
    def delete(self, request: AuthenticatedRequest, message_id: int) -> Response:
        services.dm_delete(user=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
