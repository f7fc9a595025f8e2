from django.urls import path

from carepath.accounts import views

urlpatterns = [
    path("invitation/<str:token>/", views.accept_invitation, name="invitation-accept"),
]
