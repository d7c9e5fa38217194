from django.urls import path

from config import api  # noqa: F401 (registers the <id:...> converter)
from notifications.api import views

urlpatterns = [
    path("", views.NotificationListApi.as_view(), name="api-notifications"),
    path("read/", views.NotificationReadApi.as_view(), name="api-notifications-read"),
    path("unread-count/", views.UnreadCountApi.as_view(), name="api-notifications-unread-count"),
    path("preferences/", views.PreferenceApi.as_view(), name="api-notifications-preferences"),
    path("send/", views.SendApi.as_view(), name="api-notifications-send"),
    path("<id:notification_id>/", views.NotificationDetailApi.as_view(), name="api-notification"),
]
