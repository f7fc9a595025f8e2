from django.urls import path

from carepath.accounts import views

urlpatterns = [path("tokens/", views.tokens_page, name="tokens")]
