"""The core's REST endpoint: the inbox's `unread` object (the same one the inbox join reply carries)."""

from typing import cast

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import UNAUTHORIZED
from realtime.inbox import unread_for_user
from realtime.users import UserLike


class UnreadSerializer(serializers.Serializer):
    """The inbox counters: every app's part merged into one object."""

    dms = serializers.IntegerField(help_text="Unread direct messages from friends.")
    notifications = serializers.IntegerField(help_text="Unread notifications.")
    channels = serializers.DictField(
        child=serializers.IntegerField(), help_text="Unread messages per channel id, for every channel you are in."
    )


class InboxUnreadApi(APIView):
    @extend_schema(
        summary="Your unread counters",
        description="The inbox join reply's `unread`: every app's counters in one object (apps may add keys, "
        "e.g. `dms_by_user`).",
        responses={200: OpenApiResponse(UnreadSerializer), 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        # Behind IsAuthenticated (the default permission): a signed-in user.
        return Response(unread_for_user(user=cast(UserLike, request.user)))
