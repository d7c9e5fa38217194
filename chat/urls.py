from django.urls import path

from chat import views
from config import api  # noqa: F401 (registers the <id:...> converter)

app_name = "chat"

urlpatterns = [
    path("", views.chat_index, name="index"),
    path("<id:channel_id>/", views.channel_detail, name="channel"),
    path("dm/<str:username>/", views.dm_detail, name="dm"),
]
