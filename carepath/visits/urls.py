from django.urls import path

from carepath.visits import views

urlpatterns = [
    path("", views.visit_list, name="visit-list"),
    path("on-demand/", views.on_demand, name="visit-on-demand"),
    path("appointments/<int:appointment_id>/", views.appointment_entry, name="visit-appointment"),
    path("<int:visit_id>/", views.room, name="visit-room"),
    path("<int:visit_id>/wait/", views.waiting_room, name="visit-wait"),
    path("<int:visit_id>/take/", views.take, name="visit-take"),
    path("<int:visit_id>/join/<str:token>/", views.join_link, name="visit-join"),
]
