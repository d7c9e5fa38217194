"""Notifications REST API: validate, call one service or selector, respond."""

import hmac
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import AuthenticatedRequest, signed_in_user
from config.api import INVALID, UNAUTHORIZED, ErrorSerializer
from notifications import selectors, services
from notifications.api.serializers import (
    NotificationListQuerySerializer,
    NotificationReadResultSerializer,
    NotificationReadSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    SendResultSerializer,
    SendSerializer,
    UnreadCountSerializer,
)
from notifications.models import Notification

TOKEN_HEADER = "X-Notifications-Token"  # noqa: S105 (a header name, not a secret)


class NotificationListApi(generics.ListAPIView):
    serializer_class = NotificationSerializer

    @extend_schema(
        summary="Your notifications",
        description="Newest first; hidden ones are left out.",
        parameters=[NotificationListQuerySerializer],
        responses={200: NotificationSerializer(many=True), 400: INVALID, 401: UNAUTHORIZED},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Notification]:
        query = NotificationListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.notification_list(user=signed_in_user(self.request), **query.validated_data)


class NotificationReadApi(APIView):
    @extend_schema(
        summary="Mark notifications read",
        description="`ids` or `all`. Ids that are not yours or unknown are ignored. Your other devices "
        "get `notifications.read` with the ids that changed.",
        request=NotificationReadSerializer,
        responses={200: NotificationReadResultSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = NotificationReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.notifications_mark_read(
            user=request.user, ids=serializer.validated_data.get("ids"), everything=serializer.validated_data["all"]
        )
        return Response({"ids": changed, "count": selectors.unread_count(user=request.user)})


class UnreadCountApi(APIView):
    @extend_schema(summary="Your unread notifications", responses={200: UnreadCountSerializer, 401: UNAUTHORIZED})
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"count": selectors.unread_count(user=request.user)})


class NotificationDetailApi(APIView):
    @extend_schema(
        summary="Hide a notification",
        description="Your other devices get `notification.deleted`.",
        request=None,
        responses={
            204: OpenApiResponse(description="Hidden."),
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorSerializer, description="No such notification of yours."),
        },
    )
    def delete(self, request: AuthenticatedRequest, notification_id: int) -> Response:
        services.notification_hide(user=request.user, notification_id=notification_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferenceApi(APIView):
    @extend_schema(summary="Your notification preferences", responses={200: PreferenceSerializer, 401: UNAUTHORIZED})
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"muted_kinds": selectors.muted_kinds(user=request.user)})

    @extend_schema(
        summary="Change your notification preferences",
        description="Muted kinds are not stored for you from then on.",
        request=PreferenceSerializer,
        responses={200: PreferenceSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def put(self, request: AuthenticatedRequest) -> Response:
        serializer = PreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.preference_update(user=request.user, **serializer.validated_data)
        return Response({"muted_kinds": preference.muted_kinds})


class CanTrigger(permissions.BasePermission):
    """A staff user, or the `X-Notifications-Token` header equal to NOTIFICATIONS_API_TOKEN (when set)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        expected = settings.NOTIFICATIONS_API_TOKEN
        given = request.headers.get(TOKEN_HEADER, "")
        if expected and given and hmac.compare_digest(given.encode(), expected.encode()):
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class SendApi(APIView):
    permission_classes = [CanTrigger]

    @extend_schema(
        summary="Notify users (trigger API)",
        description="For backends that are not Django: a staff user, or the `X-Notifications-Token` header "
        'equal to the NOTIFICATIONS_API_TOKEN setting. `users` is a list of ids or "all"; unknown '
        "and inactive users are skipped, as are users who mute the kind.",
        request=SendSerializer,
        parameters=[OpenApiParameter(TOKEN_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        responses={
            201: SendResultSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Neither staff nor the right token."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        count = services.notifications_bulk_create(
            user_ids=data["users"],
            kind=data["kind"],
            title=data["title"],
            body=data["body"],
            data=data["data"],
            group_key=data["group_key"],
        )
        return Response({"count": count}, status=status.HTTP_201_CREATED)
