from django.urls import path

from carepath.files import views

urlpatterns = [
    path("<int:file_id>/", views.file_view, name="file"),
    path("<int:file_id>/thumbnail/", views.thumbnail_view, name="file-thumbnail"),
]
