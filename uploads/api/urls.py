from django.urls import path, register_converter

from uploads.api import views


class UploadIdConverter:
    """A database id: at most 18 digits, so a longer number is a 404, not a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(UploadIdConverter, "upload_id")

urlpatterns = [
    path("sessions/", views.SessionListApi.as_view(), name="api-uploads-sessions"),
    path("sessions/<upload_id:session_id>/", views.SessionDetailApi.as_view(), name="api-uploads-session"),
    path("sessions/<upload_id:session_id>/progress/", views.SessionProgressApi.as_view(), name="api-uploads-progress"),
    path("sessions/<upload_id:session_id>/cancel/", views.SessionCancelApi.as_view(), name="api-uploads-cancel"),
    path("files/<upload_id:file_id>/content/", views.FileContentApi.as_view(), name="api-uploads-file-content"),
    # tus 1.0: creation here, HEAD/DELETE/OPTIONS on an upload; its PATCH streams in uploads.asgi.
    path("tus/", views.TusCreateApi.as_view(), name="api-uploads-tus"),
    path("tus/<upload_id:file_id>", views.TusFileApi.as_view(), name="api-uploads-tus-file"),
]
