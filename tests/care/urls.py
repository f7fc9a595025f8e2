"""The project's URLs plus the care pages, for these tests until the lead includes
carepath.care.urls at "episodes/" in carepath/urls.py (then this adds nothing)."""

from django.urls import include, path

from carepath.urls import urlpatterns as project_urlpatterns

_included = any(str(entry.pattern) == "episodes/" for entry in project_urlpatterns)
urlpatterns = list(project_urlpatterns)
if not _included:
    urlpatterns.insert(0, path("episodes/", include("carepath.care.urls")))

handler400 = "carepath.core.views.bad_request"
handler403 = "carepath.core.views.permission_denied"
handler404 = "carepath.core.views.not_found"
handler500 = "carepath.core.views.server_error"
