from django.urls import path

from carepath.consent import views

urlpatterns = [
    path("", views.consent_page, name="consent"),
    path("revoke/", views.revoke_page, name="consent-revoke"),
]
