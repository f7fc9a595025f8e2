from django.urls import URLPattern, URLResolver, path

from carepath.carepaths import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.overview, name="carepaths-overview"),
    path("episodes/<int:episode_id>/", views.episode, name="carepaths-episode"),
    path("definitions/", views.definitions, name="carepaths-definitions"),
    path("definitions/<slug:code>/", views.definition, name="carepaths-definition"),
    path("check-ins/", views.my_check_ins, name="carepaths-check-ins"),
    path("check-ins/<int:check_in_id>/", views.answer_check_in, name="carepaths-check-in"),
    path("check-ins/<int:check_in_id>/draft/", views.autosave, name="carepaths-check-in-draft"),
    path(
        "check-ins/<int:check_in_id>/review/",
        views.review_check_in,
        name="carepaths-check-in-review",
    ),
]
