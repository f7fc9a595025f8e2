from django.urls import URLPattern, URLResolver, path

from carepath.pharmacy import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.directory, name="pharmacy-directory"),
    path("preferred/", views.choose_preferred, name="pharmacy-preferred"),
    path("admin/", views.admin_list, name="pharmacy-admin"),
    path("admin/new/", views.admin_new, name="pharmacy-admin-new"),
    path("admin/<int:pharmacy_id>/", views.admin_edit, name="pharmacy-admin-edit"),
    path("admin/<int:pharmacy_id>/active/", views.admin_set_active, name="pharmacy-admin-active"),
    path("admin/network/", views.network_credentials, name="pharmacy-network"),
    path(
        "admin/network/<int:client_id>/revoke/",
        views.revoke_network_credential,
        name="pharmacy-network-revoke",
    ),
    path("dispatches/", views.dispatch_list, name="pharmacy-dispatches"),
    path("dispatches/<int:dispatch_id>/", views.dispatch_detail, name="pharmacy-dispatch"),
    path(
        "dispatches/<int:dispatch_id>/retry/", views.dispatch_retry, name="pharmacy-dispatch-retry"
    ),
]
