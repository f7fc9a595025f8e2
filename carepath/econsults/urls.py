from django.urls import path

from carepath.econsults import views

urlpatterns = [
    path("", views.econsult_list, name="econsult-list"),
    path("new/", views.econsult_new, name="econsult-new"),
    path("<int:econsult_id>/", views.econsult_detail, name="econsult-detail"),
]
