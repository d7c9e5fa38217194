from django.urls import path, register_converter

from config import api  # noqa: F401 (registers the <id:...> converter)
from shares.api import views


class TokenConverter:
    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "share_token")

urlpatterns = [
    path("goals/", views.GoalListApi.as_view(), name="api-shares-goals"),
    path("goals/<id:goal_id>/", views.GoalDetailApi.as_view(), name="api-shares-goal"),
    path("goals/<id:goal_id>/progress/", views.GoalProgressListApi.as_view(), name="api-shares-progress"),
    path("reflections/", views.ReflectionListApi.as_view(), name="api-shares-reflections"),
    path("reflections/<id:reflection_id>/", views.ReflectionDetailApi.as_view(), name="api-shares-reflection"),
    path("shares/", views.ShareListApi.as_view(), name="api-shares"),
    path("shares/<id:share_id>/", views.ShareDetailApi.as_view(), name="api-share"),
    path("shares/<id:share_id>/end/", views.ShareEndApi.as_view(), name="api-share-end"),
    path("shares/<id:share_id>/comments/", views.ShareCommentListApi.as_view(), name="api-share-comments"),
    path(
        "shares/<id:share_id>/comments/<id:comment_id>/hide/",
        views.ShareCommentHideApi.as_view(),
        name="api-share-comment-hide",
    ),
    path(
        "shares/<id:share_id>/comments/<id:comment_id>/restore/",
        views.ShareCommentRestoreApi.as_view(),
        name="api-share-comment-restore",
    ),
    path("s/<share_token:token>/", views.SharedViewApi.as_view(), name="api-shared"),
    path("s/<share_token:token>/comments/", views.SharedCommentListApi.as_view(), name="api-shared-comments"),
]
