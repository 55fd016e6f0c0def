"""On Fly.io, REDIS_URL is required: the embedded Valkey is for one machine that keeps its disk.

A Fly machine's root filesystem is made anew from the image at every deploy, so data kept
outside a volume is lost each time; and a volume belongs to one machine, so with two machines
(`fly scale count 2`) each would keep a store of its own: a caller could be texted back twice,
and a thread's replies would reach one machine's store and not the other's. textback runs on
one small machine and scales out to several by sharing one Redis, so on Fly (FLY_APP_NAME set,
as Fly does in every machine) `textback serve` refuses to start without REDIS_URL and
`textback doctor` says why. Off Fly, the embedded Valkey is fine on one machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings

IsMount = Callable[[Path], bool]


def is_mount(path: Path) -> bool:
    """True when `path` is where a file system is mounted (a Fly volume at /data): its device
    differs from its parent's, or it is its own parent. A missing path is not a mount."""
    return os.path.ismount(path)


@dataclass(frozen=True)
class StorageProblem:
    """What is wrong with where the data would be kept, and what to do about it."""

    detail: str
    fix: str


def fly_storage_problem(settings: Settings, mounted: IsMount = is_mount) -> StorageProblem | None:
    """Why the embedded Valkey cannot keep this app's data on Fly, or None when it is not asked to."""
    app, where = settings.fly_app, settings.data_dir
    if app is None or settings.redis_url is not None:
        return None
    fix = (f"create a Redis in the app's region: fly redis create --name {app}-redis --region <region> "
           "--no-replicas --disable-eviction, then: fly secrets set "
           "REDIS_URL=redis://default:<password>@<host>:6379 (docs/deploy.md, step 6)")
    if mounted(where):
        return StorageProblem(
            f"REDIS_URL is unset on Fly (app {app}): the embedded Valkey keeps its data on the volume at {where}, "
            "which only this machine sees; a second machine (fly scale count 2) would keep a store of its own, "
            "so callers could be texted twice and threads split between them (how many machines the app has "
            "cannot be seen from inside one)", fix)
    return StorageProblem(
        f"REDIS_URL is unset on Fly (app {app}): the embedded Valkey would keep its data in {where}, which is "
        "not a volume, so every deploy or restart starts it empty (conversations, opt-outs and pending jobs "
        "lost), and each machine would keep a store of its own", fix)
