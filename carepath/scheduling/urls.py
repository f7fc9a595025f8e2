from django.urls import path

from carepath.scheduling import views

urlpatterns = [
    path("patient/appointments/", views.my_appointments, name="patient-appointments"),
    path("patient/appointments/book/", views.book_search, name="book-search"),
    path("patient/appointments/book/confirm/", views.book_confirm, name="book-confirm"),
    path(
        "patient/appointments/<int:appointment_id>/",
        views.appointment_detail,
        name="patient-appointment",
    ),
    path(
        "patient/appointments/<int:appointment_id>/cancel/",
        views.cancel_appointment,
        name="patient-appointment-cancel",
    ),
    path(
        "patient/appointments/<int:appointment_id>/reschedule/",
        views.reschedule_appointment,
        name="patient-appointment-reschedule",
    ),
    path("staff/schedule/", views.clinician_schedule, name="clinician-schedule"),
    path(
        "staff/schedule/appointments/<int:appointment_id>/",
        views.clinician_appointment,
        name="clinician-appointment",
    ),
    path(
        "staff/schedule/appointments/<int:appointment_id>/cancel/",
        views.clinician_cancel,
        name="clinician-appointment-cancel",
    ),
    path(
        "staff/schedule/appointments/<int:appointment_id>/no-show/",
        views.clinician_no_show,
        name="clinician-appointment-no-show",
    ),
    path("staff/schedule/hours/", views.weekly_hours, name="weekly-hours"),
    path(
        "staff/schedule/hours/<int:rule_id>/remove/",
        views.remove_weekly_hours,
        name="weekly-hours-remove",
    ),
    path("staff/schedule/exceptions/", views.availability_exceptions, name="exceptions"),
    path(
        "staff/schedule/exceptions/<int:exception_id>/remove/",
        views.remove_exception,
        name="exception-remove",
    ),
    path("staff/schedule/visit-types/", views.visit_types, name="visit-types"),
    path(
        "staff/schedule/visit-types/<int:visit_type_id>/",
        views.visit_types,
        name="visit-type-edit",
    ),
]
