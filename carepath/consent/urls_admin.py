from django.urls import path

from carepath.consent import views

urlpatterns = [path("", views.documents_page, name="consent-documents")]
