"""Accounts REST API: validate, call one service or selector, respond."""

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import selectors, services
from accounts.api.serializers import (
    RegisterResultSerializer,
    RegisterSerializer,
    UserListItemSerializer,
    UserMeSerializer,
    UserMeUpdateSerializer,
    UserSearchSerializer,
)
from accounts.auth import AuthenticatedRequest, signed_in_user
from accounts.models import User
from config.api import INVALID, RATE_LIMITED, UNAUTHORIZED, ErrorSerializer
from config.errors import NotFound
from config.throttling import (
    LoginAccountThrottle,
    LoginAddressThrottle,
    RegisterAddressThrottle,
    TokenRefreshAddressThrottle,
)

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such active user.")


class RegistrationOpen(BasePermission):
    """Lets requests through while settings.ALLOW_REGISTRATION is on (read per request, so tests can flip it)."""

    message = "Registration is closed on this server."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(settings.ALLOW_REGISTRATION)


class RegisterApi(APIView):
    # No authentication: a stale token or session must not stop someone from registering,
    # and with no authenticators DRF answers a refused permission with 403, not 401.
    authentication_classes = []
    permission_classes = [RegistrationOpen]
    throttle_classes = [RegisterAddressThrottle]

    @extend_schema(
        summary="Create an account",
        request=RegisterSerializer,
        responses={
            201: RegisterResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Taken username, weak password or bad email."),
            403: OpenApiResponse(ErrorSerializer, description="Registration is turned off."),
            429: RATE_LIMITED,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        tokens = services.token_pair_create(user=user)
        return Response(RegisterResultSerializer({"user": user, **tokens}).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Sign in: an access and a refresh token",
    responses={200: TokenObtainPairSerializer, 400: INVALID, 401: UNAUTHORIZED, 429: RATE_LIMITED},
)
class TokenObtainApi(TokenObtainPairView):
    """SimpleJWT's sign-in, limited per account name and per client address (brute force)."""

    throttle_classes = [LoginAddressThrottle, LoginAccountThrottle]


@extend_schema(
    summary="A new access token (and a rotated refresh token)",
    responses={200: TokenRefreshSerializer, 400: INVALID, 401: UNAUTHORIZED, 429: RATE_LIMITED},
)
class TokenRefreshApi(TokenRefreshView):
    """SimpleJWT's refresh, limited per client address."""

    throttle_classes = [TokenRefreshAddressThrottle]


class UserMeApi(APIView):
    @extend_schema(summary="Your own profile", responses={200: UserMeSerializer, 401: UNAUTHORIZED})
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(UserMeSerializer(request.user).data)

    @extend_schema(
        summary="Change your display name",
        request=UserMeUpdateSerializer,
        responses={200: UserMeSerializer, 400: ErrorSerializer, 401: UNAUTHORIZED},
    )
    def patch(self, request: AuthenticatedRequest) -> Response:
        serializer = UserMeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **serializer.validated_data)
        return Response(UserMeSerializer(user).data)


@extend_schema(
    summary="Find users",
    parameters=[UserSearchSerializer],
    responses={200: UserListItemSerializer(many=True), 401: UNAUTHORIZED},
)
class UserListApi(generics.ListAPIView):
    serializer_class = UserListItemSerializer

    def get_queryset(self) -> QuerySet[User]:
        query = UserSearchSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.user_list(viewer=signed_in_user(self.request), search=query.validated_data.get("search"))


class UserDetailApi(APIView):
    @extend_schema(summary="One user", responses={200: UserListItemSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND})
    def get(self, request: AuthenticatedRequest, user_id: int) -> Response:
        user = selectors.user_get(viewer=request.user, user_id=user_id)
        if user is None:
            raise NotFound("No such user.")
        return Response(UserListItemSerializer(user).data)


class UserFollowApi(APIView):
    @extend_schema(
        summary="Follow a user",
        description="Following someone who follows you makes you friends.",
        request=None,
        responses={
            201: OpenApiResponse(UserListItemSerializer, description="The followed user, as you now see them."),
            400: OpenApiResponse(ErrorSerializer, description="You cannot follow yourself."),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="You already follow this user."),
        },
    )
    def post(self, request: AuthenticatedRequest, user_id: int) -> Response:
        services.user_follow(follower=request.user, followee_id=user_id)
        user = selectors.user_get(viewer=request.user, user_id=user_id)
        return Response(UserListItemSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Stop following a user",
        request=None,
        responses={
            204: OpenApiResponse(description="Unfollowed."),
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorSerializer, description="You do not follow this user."),
        },
    )
    def delete(self, request: AuthenticatedRequest, user_id: int) -> Response:
        services.user_unfollow(follower=request.user, followee_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Your friends (mutual follows)", responses={200: UserListItemSerializer(many=True), 401: UNAUTHORIZED}
)
class UserFriendListApi(generics.ListAPIView):
    serializer_class = UserListItemSerializer

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list_friends(viewer=signed_in_user(self.request))


@extend_schema(summary="Users who follow you", responses={200: UserListItemSerializer(many=True), 401: UNAUTHORIZED})
class UserFollowerListApi(generics.ListAPIView):
    serializer_class = UserListItemSerializer

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list_followers(viewer=signed_in_user(self.request))


@extend_schema(summary="Users you follow", responses={200: UserListItemSerializer(many=True), 401: UNAUTHORIZED})
class UserFollowingListApi(generics.ListAPIView):
    serializer_class = UserListItemSerializer

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list_following(viewer=signed_in_user(self.request))
