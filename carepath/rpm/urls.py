from django.urls import path

from carepath.rpm import views

urlpatterns = [
    path("", views.patient_home, name="rpm-patient"),
    path("consent/<int:enrollment_id>/", views.patient_consent, name="rpm-consent"),
    path("staff/", views.staff_list, name="rpm-staff"),
    path("staff/patients/<int:patient_id>/", views.staff_patient, name="rpm-staff-patient"),
    path("staff/patients/<int:patient_id>/enroll/", views.enroll, name="rpm-enroll"),
    path("staff/patients/<int:patient_id>/devices/", views.register_device, name="rpm-device-add"),
    path("staff/patients/<int:patient_id>/time/", views.record_time, name="rpm-time"),
    path("staff/patients/<int:patient_id>/timer/start/", views.start_timer, name="rpm-timer-start"),
    path("staff/timer/stop/", views.stop_timer, name="rpm-timer-stop"),
    path(
        "staff/enrollments/<int:enrollment_id>/thresholds/",
        views.thresholds,
        name="rpm-thresholds",
    ),
    path("staff/enrollments/<int:enrollment_id>/end/", views.end_enrollment, name="rpm-end"),
    path("staff/devices/<int:device_id>/revoke/", views.revoke_device, name="rpm-device-revoke"),
    path("staff/alerts/<int:alert_id>/resolve/", views.resolve_alert, name="rpm-alert-resolve"),
    path(
        "staff/readings/<int:reading_id>/entered-in-error/",
        views.reading_in_error,
        name="rpm-reading-error",
    ),
    path("staff/billing/", views.billing_report, name="rpm-billing"),
    path("staff/billing.csv", views.billing_csv, name="rpm-billing-csv"),
]
