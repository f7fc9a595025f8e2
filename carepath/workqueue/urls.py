from django.urls import path

from carepath.workqueue import views

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("overview/", views.overview_page, name="queue-overview"),
    path("claim-next/", views.claim_next, name="queue-claim-next"),
    path("<int:item_id>/claim/", views.claim, name="queue-claim"),
    path("<int:item_id>/release/", views.release, name="queue-release"),
    path("<int:item_id>/complete/", views.complete, name="queue-complete"),
    path("<int:item_id>/reassign/", views.reassign, name="queue-reassign"),
]
