from django.urls import path

from carepath.accounts import views as account_views
from carepath.portal import views

urlpatterns = [
    path("patient/", views.patient_home, name="patient-home"),
    path("patient/profile/", account_views.patient_profile, name="patient-profile"),
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/admin/", views.admin_home, name="admin-home"),
]
