from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/", views.my_preferences, name="my-preferences"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
]
