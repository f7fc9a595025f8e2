import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from tests.browser.helpers import drop_audit_triggers, restore_audit_triggers

TEST_KEYS = {"k1": bytes(range(32))}


@pytest.fixture(autouse=True)
def _isolated_layers() -> Iterator[None]:
    """Each test gets its own channel-layer and cache prefix, so parallel runs on one Redis
    never see each other's thread groups or presence keys; uploads go to a temp dir."""
    prefix = f"cp-msg-{secrets.token_hex(4)}"
    layers: dict[str, Any] = {
        alias: {**conf, "CONFIG": {**conf.get("CONFIG", {}), "prefix": prefix}}
        if "redis" in conf["BACKEND"]
        else conf
        for alias, conf in settings.CHANNEL_LAYERS.items()
    }
    caches = {alias: {**conf, "KEY_PREFIX": prefix} for alias, conf in settings.CACHES.items()}
    media = Path(tempfile.mkdtemp(prefix="carepath-msg-files-"))
    with override_settings(
        CHANNEL_LAYERS=layers,
        CACHES=caches,
        MEDIA_ROOT=str(media),
        FILE_ENCRYPTION_KEYS=TEST_KEYS,
        FILE_ENCRYPTION_KEY_ID="k1",
    ):
        cache.clear()
        yield
    shutil.rmtree(media, ignore_errors=True)


@pytest.fixture(autouse=True)
def _audit_triggers_back_after_flush(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """Set up before the database fixtures, torn down after their flush: puts back the
    append-only audit triggers that flushable_db dropped for the flush."""
    yield
    if "flushable_db" in request.fixturenames:
        with django_db_blocker.unblock():
            restore_audit_triggers()


@pytest.fixture
def flushable_db(transactional_db: None, django_db_blocker: Any) -> Iterator[None]:
    """A real-commit database (sockets and threads see the data); the audit table's
    append-only triggers are lifted only for the flush that ends the test."""
    yield
    with django_db_blocker.unblock():
        drop_audit_triggers()
