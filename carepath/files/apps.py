from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "carepath.files"
    label = "files"
