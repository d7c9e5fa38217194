from django.urls import path

from config import api  # noqa: F401 (registers the <id:...> converter)
from uploads.api import views

urlpatterns = [
    path("sessions/", views.SessionListApi.as_view(), name="api-uploads-sessions"),
    path("sessions/<id:session_id>/", views.SessionDetailApi.as_view(), name="api-uploads-session"),
    path("sessions/<id:session_id>/progress/", views.SessionProgressApi.as_view(), name="api-uploads-progress"),
    path("sessions/<id:session_id>/cancel/", views.SessionCancelApi.as_view(), name="api-uploads-cancel"),
    path("files/<id:file_id>/content/", views.FileContentApi.as_view(), name="api-uploads-file-content"),
    # tus 1.0: creation here, HEAD/DELETE/OPTIONS on an upload; its PATCH streams in uploads.asgi.
    path("tus/", views.TusCreateApi.as_view(), name="api-uploads-tus"),
    path("tus/<id:file_id>", views.TusFileApi.as_view(), name="api-uploads-tus-file"),
]
