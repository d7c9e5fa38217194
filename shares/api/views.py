"""Shares REST API: validate, call one service or selector, respond.

Owner endpoints need sign-in and see only the user's own objects (anyone else's are
404). Viewer endpoints (`/api/s/<token>/...`) take anyone holding the token; password
shares take the password in `X-Share-Password`, under the same brute-force limit as the
topic. Every write goes through the service its WebSocket twin uses, so it is live at once.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, pagination, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import AuthenticatedRequest, signed_in_user
from accounts.models import User
from config.api import INVALID, UNAUTHORIZED, ErrorSerializer
from config.network import client_address
from shares import selectors, services
from shares.api.serializers import (
    CommentCreateSerializer,
    CommentSerializer,
    EntrySerializer,
    GoalCreateSerializer,
    GoalSerializer,
    GoalUpdateSerializer,
    OwnerCommentSerializer,
    ProgressCreateSerializer,
    ReflectionCreateSerializer,
    ReflectionSerializer,
    ShareCreateSerializer,
    ShareSerializer,
    ShareUpdateSerializer,
    ShareViewSerializer,
)
from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment

NO_GOAL = OpenApiResponse(ErrorSerializer, description="No such goal of yours.")
NO_REFLECTION = OpenApiResponse(ErrorSerializer, description="No such reflection of yours.")
NO_SHARE = OpenApiResponse(ErrorSerializer, description="No such share of yours.")
NO_COMMENT = OpenApiResponse(ErrorSerializer, description="No such comment on your share.")
NO_LINK = OpenApiResponse(ErrorSerializer, description="Unknown token, or the share ended or expired.")
WRONG_PASSWORD = OpenApiResponse(
    ErrorSerializer, description="Missing or wrong X-Share-Password, or removed by the owner in the last 10 minutes."
)
TOO_MANY = OpenApiResponse(
    ErrorSerializer,
    description="5 wrong passwords from your address in 10 minutes, or slow mode; `retry_after` says how long to wait.",
)
PASSWORD_HEADER = OpenApiParameter(
    "X-Share-Password", str, OpenApiParameter.HEADER, required=False, description="The password of a password share."
)


def _data(serializer_class: Any, request: Request, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _address(request: Request) -> str:
    # The socket's peer, or what a trusted proxy (TRUSTED_PROXIES) says it forwarded for.
    return client_address(request)


def _viewer(request: Request) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


def _access(request: Request, token: str) -> tuple[Share, str]:
    return services.share_access(
        token=token,
        user=_viewer(request),
        password=request.headers.get("X-Share-Password"),
        address=_address(request),
    )


# -- goals -------------------------------------------------------------------------


class GoalListApi(generics.ListAPIView):
    serializer_class = GoalSerializer

    @extend_schema(summary="Your goals", responses={200: GoalSerializer(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Goal]:
        return selectors.goal_list(user=signed_in_user(self.request))

    @extend_schema(
        summary="Create a goal",
        description="Shown live on your shares that show all your goals.",
        request=GoalCreateSerializer,
        responses={201: GoalSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        goal = services.goal_create(user=request.user, **_data(GoalCreateSerializer, request))
        return Response(GoalSerializer(goal).data, status=status.HTTP_201_CREATED)


class GoalDetailApi(APIView):
    @extend_schema(summary="One of your goals", responses={200: GoalSerializer, 401: UNAUTHORIZED, 404: NO_GOAL})
    def get(self, request: AuthenticatedRequest, goal_id: int) -> Response:
        return Response(GoalSerializer(selectors.goal_get(user=request.user, goal_id=goal_id)).data)

    @extend_schema(
        summary="Change a goal",
        description="Any of the fields, `status` included; live on the shares that show it.",
        request=GoalUpdateSerializer,
        responses={200: GoalSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_GOAL},
    )
    def patch(self, request: AuthenticatedRequest, goal_id: int) -> Response:
        data = _data(GoalUpdateSerializer, request, partial=True)
        goal = services.goal_update(user=request.user, goal_id=goal_id, **data)
        return Response(GoalSerializer(goal).data)

    @extend_schema(
        summary="Delete a goal",
        description="With its progress; viewers of the shares that showed it get `goal.removed`.",
        responses={204: OpenApiResponse(description="Deleted."), 401: UNAUTHORIZED, 404: NO_GOAL},
    )
    def delete(self, request: AuthenticatedRequest, goal_id: int) -> Response:
        services.goal_delete(user=request.user, goal_id=goal_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GoalProgressListApi(generics.ListAPIView):
    serializer_class = EntrySerializer

    @extend_schema(
        summary="Progress of a goal",
        description="Newest first.",
        responses={200: EntrySerializer(many=True), 401: UNAUTHORIZED, 404: NO_GOAL},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ProgressEntry]:
        return selectors.entry_list(user=signed_in_user(self.request), goal_id=self.kwargs["goal_id"])

    @extend_schema(
        summary="Record progress",
        description="`{value}` (the new current value) or `{delta}`, and an optional note. Reaching the "
        "target makes the goal done.",
        request=ProgressCreateSerializer,
        responses={201: EntrySerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_GOAL},
    )
    def post(self, request: AuthenticatedRequest, goal_id: int) -> Response:
        data = _data(ProgressCreateSerializer, request)
        entry = services.progress_record(
            user=request.user, goal_id=goal_id, value=data.get("value"), delta=data.get("delta"), note=data["note"]
        )
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


# -- reflections -------------------------------------------------------------------


class ReflectionListApi(generics.ListAPIView):
    serializer_class = ReflectionSerializer

    @extend_schema(
        summary="Your reflections", description="Newest first.", responses={200: ReflectionSerializer(many=True)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Reflection]:
        return selectors.reflection_list(user=signed_in_user(self.request))

    @extend_schema(
        summary="Write a reflection",
        description="Live on your shares that show reflections.",
        request=ReflectionCreateSerializer,
        responses={201: ReflectionSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        reflection = services.reflection_create(user=request.user, **_data(ReflectionCreateSerializer, request))
        return Response(ReflectionSerializer(reflection).data, status=status.HTTP_201_CREATED)


class ReflectionDetailApi(APIView):
    @extend_schema(
        summary="Delete a reflection",
        responses={204: OpenApiResponse(description="Deleted."), 401: UNAUTHORIZED, 404: NO_REFLECTION},
    )
    def delete(self, request: AuthenticatedRequest, reflection_id: int) -> Response:
        services.reflection_delete(user=request.user, reflection_id=reflection_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- shares (owner) ----------------------------------------------------------------


class ShareListApi(generics.ListAPIView):
    serializer_class = ShareSerializer

    @extend_schema(summary="Your shares", description="Newest first.", responses={200: ShareSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Share]:
        return selectors.share_list(user=signed_in_user(self.request))

    @extend_schema(
        summary="Create a share",
        description="A link to your goals: public, or with a password (at least 4 characters).",
        request=ShareCreateSerializer,
        responses={201: ShareSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        share = services.share_create(user=request.user, **_data(ShareCreateSerializer, request))
        return Response(ShareSerializer(share, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ShareDetailApi(APIView):
    @extend_schema(summary="One of your shares", responses={200: ShareSerializer, 401: UNAUTHORIZED, 404: NO_SHARE})
    def get(self, request: AuthenticatedRequest, share_id: int) -> Response:
        share = selectors.share_get(user=request.user, share_id=share_id)
        return Response(ShareSerializer(share, context={"request": request}).data)

    @extend_schema(
        summary="Change a share",
        description="Scope, comment settings, slow mode, expiry, password. A new password removes the "
        "current viewers, who join again with it.",
        request=ShareUpdateSerializer,
        responses={200: ShareSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NO_SHARE},
    )
    def patch(self, request: AuthenticatedRequest, share_id: int) -> Response:
        data = _data(ShareUpdateSerializer, request, partial=True)
        share = services.share_update(user=request.user, share_id=share_id, **data)
        return Response(
            ShareSerializer(
                selectors.share_get(user=request.user, share_id=share.pk), context={"request": request}
            ).data
        )


class ShareEndApi(APIView):
    @extend_schema(
        summary="End a share",
        description="Viewers get `share.ended` and lose the topic; the link stops working.",
        request=None,
        responses={200: ShareSerializer, 401: UNAUTHORIZED, 404: NO_SHARE},
    )
    def post(self, request: AuthenticatedRequest, share_id: int) -> Response:
        selectors.share_get(user=request.user, share_id=share_id)
        share = services.share_end(user=request.user, share_id=share_id)
        return Response(ShareSerializer(share, context={"request": request}).data)


class ShareCommentListApi(generics.ListAPIView):
    serializer_class = OwnerCommentSerializer

    @extend_schema(
        summary="Comments on your share",
        description="Newest first, hidden ones included (with their text, marked `hidden`).",
        responses={200: OwnerCommentSerializer(many=True), 401: UNAUTHORIZED, 404: NO_SHARE},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ShareComment]:
        return selectors.comment_list_for_owner(user=signed_in_user(self.request), share_id=self.kwargs["share_id"])


class ShareCommentHideApi(APIView):
    @extend_schema(
        summary="Hide a comment",
        description="Viewers get `comment.hidden`; resuming viewers are never replayed its text.",
        request=None,
        responses={200: OwnerCommentSerializer, 401: UNAUTHORIZED, 404: NO_COMMENT},
    )
    def post(self, request: AuthenticatedRequest, share_id: int, comment_id: int) -> Response:
        selectors.share_get(user=request.user, share_id=share_id)  # the owner's endpoint: others' are 404
        comment = services.comment_hide(user=request.user, comment_id=comment_id, share_id=share_id)
        return Response(OwnerCommentSerializer(comment).data)


class ShareCommentRestoreApi(APIView):
    @extend_schema(
        summary="Show a hidden comment again",
        description="Viewers get `comment.restored`.",
        request=None,
        responses={200: OwnerCommentSerializer, 401: UNAUTHORIZED, 404: NO_COMMENT},
    )
    def post(self, request: AuthenticatedRequest, share_id: int, comment_id: int) -> Response:
        selectors.share_get(user=request.user, share_id=share_id)  # the owner's endpoint: others' are 404
        comment = services.comment_restore(user=request.user, comment_id=comment_id, share_id=share_id)
        return Response(OwnerCommentSerializer(comment).data)


# -- viewers (anyone holding the token) --------------------------------------------


class SharedViewApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A shared view",
        description="The same object as the `share:<token>` join reply's `share`, plus `room`.",
        parameters=[PASSWORD_HEADER],
        responses={200: ShareViewSerializer, 403: WRONG_PASSWORD, 404: NO_LINK, 429: TOO_MANY},
    )
    def get(self, request: Request, token: str) -> Response:
        share, _ = _access(request, token)
        return Response({**selectors.share_view_data(share), "room": selectors.share_room(share=share)})


class CommentCursorPagination(pagination.CursorPagination):
    """Newest first, by id (ids grow with time); `?cursor=` from `next` for older ones."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class SharedCommentListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CommentSerializer
    pagination_class = CommentCursorPagination

    @extend_schema(
        summary="Comments on a shared view",
        description="Visible comments, newest first, in cursor pages (`next` leads to older ones).",
        parameters=[PASSWORD_HEADER],
        responses={200: CommentSerializer(many=True), 403: WRONG_PASSWORD, 404: NO_LINK, 429: TOO_MANY},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ShareComment]:
        share, _ = _access(self.request, self.kwargs["token"])
        return selectors.comment_list_visible(share=share)

    @extend_schema(
        summary="Comment on a shared view",
        description="When the share allows comments (anonymous ones: when it allows those), within its slow mode.",
        parameters=[PASSWORD_HEADER],
        request=CommentCreateSerializer,
        responses={
            201: CommentSerializer,
            400: INVALID,
            401: OpenApiResponse(ErrorSerializer, description="The share takes comments from signed-in viewers only."),
            403: OpenApiResponse(ErrorSerializer, description="Comments are off, or wrong password."),
            404: NO_LINK,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request, token: str) -> Response:
        share, _ = _access(request, token)
        data = _data(CommentCreateSerializer, request)
        comment = services.comment_create(
            token=share.token,
            user=_viewer(request),
            address=_address(request),
            message=data["message"],
            name=data["name"],
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
