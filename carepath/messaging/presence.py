"""Who has a thread open right now: a cache key per (thread, user) that each open socket
refreshes every PRESENCE_REFRESH_SECONDS and that lapses PRESENCE_TTL_SECONDS after the last
refresh. With Redis every web worker sees the same keys; the embedded default runs one process
with a local-memory cache. A socket that closes removes the key if it was the last to write it
(another open tab writes it again at its next refresh)."""

from django.core.cache import cache

PRESENCE_TTL_SECONDS = 60
PRESENCE_REFRESH_SECONDS = 20


def presence_key(thread_id: int, user_id: int) -> str:
    return f"messaging:presence:{thread_id}:{user_id}"


async def mark_present(thread_id: int, user_id: int, channel_name: str) -> None:
    await cache.aset(presence_key(thread_id, user_id), channel_name, PRESENCE_TTL_SECONDS)


def refresh_presence(thread_id: int, user_id: int, channel_name: str) -> None:
    cache.set(presence_key(thread_id, user_id), channel_name, PRESENCE_TTL_SECONDS)


async def mark_absent(thread_id: int, user_id: int, channel_name: str) -> None:
    key = presence_key(thread_id, user_id)
    if await cache.aget(key) == channel_name:
        await cache.adelete(key)


def is_present(thread_id: int, user_id: int) -> bool:
    return cache.get(presence_key(thread_id, user_id)) is not None
