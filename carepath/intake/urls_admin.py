from django.urls import path

from carepath.intake import views_admin

urlpatterns = [
    path("service-lines/", views_admin.service_lines, name="admin-service-lines"),
    path("service-lines/new/", views_admin.service_line_edit, name="admin-service-line-new"),
    path(
        "service-lines/<int:line_id>/",
        views_admin.service_line_edit,
        name="admin-service-line-edit",
    ),
    path("questionnaires/", views_admin.questionnaires, name="admin-questionnaires"),
    path(
        "questionnaires/import/",
        views_admin.questionnaire_import,
        name="admin-questionnaire-import",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/",
        views_admin.questionnaire_import,
        name="admin-questionnaire-edit",
    ),
]
