from django.urls import path

from carepath.audit import views

urlpatterns = [
    path("", views.audit_report, name="audit-report"),
    path("export.csv", views.audit_csv, name="audit-csv"),
]
