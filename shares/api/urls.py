from django.urls import path, register_converter

from shares.api import views


class IdConverter:
    """A database id: at most 18 digits, so a longer number is a 404, not a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class TokenConverter:
    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "share_id")
register_converter(TokenConverter, "share_token")

urlpatterns = [
    path("goals/", views.GoalListApi.as_view(), name="api-shares-goals"),
    path("goals/<share_id:goal_id>/", views.GoalDetailApi.as_view(), name="api-shares-goal"),
    path("goals/<share_id:goal_id>/progress/", views.GoalProgressListApi.as_view(), name="api-shares-progress"),
    path("reflections/", views.ReflectionListApi.as_view(), name="api-shares-reflections"),
    path("reflections/<share_id:reflection_id>/", views.ReflectionDetailApi.as_view(), name="api-shares-reflection"),
    path("shares/", views.ShareListApi.as_view(), name="api-shares"),
    path("shares/<share_id:share_id>/", views.ShareDetailApi.as_view(), name="api-share"),
    path("shares/<share_id:share_id>/end/", views.ShareEndApi.as_view(), name="api-share-end"),
    path("shares/<share_id:share_id>/comments/", views.ShareCommentListApi.as_view(), name="api-share-comments"),
    path(
        "shares/<share_id:share_id>/comments/<share_id:comment_id>/hide/",
        views.ShareCommentHideApi.as_view(),
        name="api-share-comment-hide",
    ),
    path(
        "shares/<share_id:share_id>/comments/<share_id:comment_id>/restore/",
        views.ShareCommentRestoreApi.as_view(),
        name="api-share-comment-restore",
    ),
    path("s/<share_token:token>/", views.SharedViewApi.as_view(), name="api-shared"),
    path("s/<share_token:token>/comments/", views.SharedCommentListApi.as_view(), name="api-shared-comments"),
]
