from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from realtime.views import InboxUnreadApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("accounts.api.urls")),
    path("api/inbox/", include("realtime.urls")),
    # The inbox's counters were chat's before the inbox moved to the core; the old path stays.
    path("api/chat/unread/", InboxUnreadApi.as_view(), name="api-chat-unread"),
    path("api/chat/", include("chat.api.urls")),
    path("chat/", include("chat.urls")),
    # Shares: /api/goals/, /api/reflections/, /api/shares/, /api/s/<token>/; pages /shares/, /s/<token>/.
    path("api/", include("shares.api.urls")),
    path("", include("shares.urls")),
    path("api/uploads/", include("uploads.api.urls")),
    path("uploads/", include("uploads.urls")),
    path("api/notifications/", include("notifications.api.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("accounts.urls")),
]

# Under /api/, a path no URL matches and an unexpected error answer in the common error shape.
handler404 = "config.api.page_not_found"
handler500 = "config.api.server_error"
