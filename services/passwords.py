"""Password hashing off the event loop: argon2 takes a noticeable share of a core, so it runs in a
bounded pool of threads (CVMS_PASSWORD_HASH_WORKERS) and never inside a database transaction."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from domain.security import hash_password, verify_password
from domain.settings import Settings

_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(settings: Settings) -> ThreadPoolExecutor:
    size = settings.password_hash_workers
    if size not in _pools:
        _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"cvms-passwords-{size}")
    return _pools[size]


async def hashed(settings: Settings, password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool(settings), hash_password, password)


async def verified(settings: Settings, password_hash: str | None, password: str) -> bool:
    """Whether the password matches (an unknown account checks a dummy hash, taking as long)."""
    check = partial(verify_password, password_hash, password)
    return await asyncio.get_running_loop().run_in_executor(_pool(settings), check)
