from django.urls import path

from carepath.notifications import views

urlpatterns = [path("", views.notification_list, name="notifications")]
