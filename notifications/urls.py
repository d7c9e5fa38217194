from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_index, name="index"),
    path("preferences/", views.preferences_save, name="preferences"),
]
