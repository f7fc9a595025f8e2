from django.urls import path

from carepath.accounts import views

urlpatterns = [
    path("", views.staff_list, name="staff-list"),
    path("<int:user_id>/", views.staff_edit, name="staff-edit"),
    path(
        "<int:user_id>/licenses/<int:license_id>/remove/",
        views.license_remove,
        name="license-remove",
    ),
]
