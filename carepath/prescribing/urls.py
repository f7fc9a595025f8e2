from django.urls import URLPattern, URLResolver, path

from carepath.prescribing import views, views_admin, views_health, views_refills

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.my_prescriptions, name="my-prescriptions"),
    path("new/", views.prescribe, name="prescribe"),
    path("<int:prescription_id>/", views.prescription_detail, name="prescription"),
    path("<int:prescription_id>/pdf/", views.prescription_pdf, name="prescription-pdf"),
    path("<int:prescription_id>/sign/", views.sign, name="prescription-sign"),
    path("<int:prescription_id>/cancel/", views.cancel, name="prescription-cancel"),
    path("<int:prescription_id>/refill/", views.request_refill, name="prescription-refill"),
    path("refills/<int:refill_id>/", views_refills.refill_review, name="refill-review"),
    path("refills/<int:refill_id>/approve/", views_refills.approve, name="refill-approve"),
    path("refills/<int:refill_id>/deny/", views_refills.deny, name="refill-deny"),
    path("health/", views_health.my_health, name="my-health"),
    path("patients/<int:patient_id>/health/", views_health.patient_health, name="patient-health"),
    path("patients/<int:patient_id>/allergies/add/", views_health.add_allergy, name="allergy-add"),
    path("allergies/<int:allergy_id>/end/", views_health.end_allergy, name="allergy-end"),
    path(
        "patients/<int:patient_id>/medications/add/",
        views_health.add_medication,
        name="medication-statement-add",
    ),
    path(
        "medications/<int:statement_id>/stop/",
        views_health.stop_medication,
        name="medication-statement-stop",
    ),
    path("formulary/", views_admin.formulary_page, name="formulary"),
    path("formulary/<int:medication_id>/active/", views_admin.set_active, name="formulary-active"),
]
