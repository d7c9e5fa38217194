from django.urls import path

from accounts.api import views
from config import api  # noqa: F401 (registers the <id:...> converter)

urlpatterns = [
    path("auth/register/", views.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", views.TokenObtainApi.as_view(), name="api-token"),
    path("auth/token/refresh/", views.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("users/", views.UserListApi.as_view(), name="api-user-list"),
    path("users/me/", views.UserMeApi.as_view(), name="api-user-me"),
    path("users/me/friends/", views.UserFriendListApi.as_view(), name="api-user-friends"),
    path("users/me/followers/", views.UserFollowerListApi.as_view(), name="api-user-followers"),
    path("users/me/following/", views.UserFollowingListApi.as_view(), name="api-user-following"),
    path("users/<id:user_id>/", views.UserDetailApi.as_view(), name="api-user-detail"),
    path("users/<id:user_id>/follow/", views.UserFollowApi.as_view(), name="api-user-follow"),
]
