from django.urls import path

from carepath.portal import views

urlpatterns = [
    path("patient/", views.patient_home, name="patient-home"),
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/admin/", views.admin_home, name="admin-home"),
]
