from django.conf import settings


def test_tasks_run_inline_in_tests() -> None:
    assert settings.TASKS["default"]["BACKEND"].endswith("ImmediateBackend")
