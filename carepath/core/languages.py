from django.db import models


class Language(models.TextChoices):
    """Languages offered for care (ISO 639-1); the list grows as clinicians add them."""

    EN = "en", "English"
    ES = "es", "Spanish"
    ZH = "zh", "Chinese"
    VI = "vi", "Vietnamese"
    AR = "ar", "Arabic"
    FR = "fr", "French"
    KO = "ko", "Korean"
    RU = "ru", "Russian"
    PT = "pt", "Portuguese"
    HT = "ht", "Haitian Creole"
