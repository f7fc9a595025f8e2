from django.urls import include, path

from carepath.core import views as core_views
from carepath.core.api import api

handler400 = "carepath.core.views.bad_request"
handler403 = "carepath.core.views.permission_denied"
handler404 = "carepath.core.views.not_found"
handler500 = "carepath.core.views.server_error"

urlpatterns = [
    path("", core_views.landing, name="landing"),
    path("home/", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("fhir/R4/", include("carepath.fhir.urls")),
    path("accounts/", include("carepath.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("carepath.portal.urls")),
    path("patient/consent/", include("carepath.consent.urls")),
    path("staff/patients/", include("carepath.access.urls")),
    path("staff/admin/staff/", include("carepath.accounts.urls_admin")),
    path("staff/admin/audit/", include("carepath.audit.urls")),
    path("staff/admin/consent/", include("carepath.consent.urls_admin")),
    path("notifications/", include("carepath.notifications.urls")),
    path("staff/queue/", include("carepath.workqueue.urls")),
    path("files/", include("carepath.files.urls")),
    path("patient/visits/", include("carepath.intake.urls_patient")),
    path("staff/cases/", include("carepath.intake.urls_staff")),
    path("staff/admin/intake/", include("carepath.intake.urls_admin")),
    path("staff/econsults/", include("carepath.econsults.urls")),
    path("visits/", include("carepath.visits.urls")),
    path("messages/", include("carepath.messaging.urls")),
    path("rpm/", include("carepath.rpm.urls")),
    path("pharmacy/", include("carepath.pharmacy.urls")),
    path("prescriptions/", include("carepath.prescribing.urls")),
    path("care-paths/", include("carepath.carepaths.urls")),
    path("episodes/", include("carepath.care.urls")),
    path("", include("carepath.scheduling.urls")),
    path("account/", include("carepath.accounts.urls_self")),
]
