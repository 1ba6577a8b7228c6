"""Who holds the working directory's snakemake lock, so that a stale one can be explained.

Snakemake locks a directory (``.snakemake/locks/*.lock``) while it runs and removes the
lock when it ends, also on Ctrl-C or a job failure. A run killed outright (SIGKILL, a power
cut, a lost node) leaves the lock, and the next run stops with "Directory cannot be
locked". Snakemake's lock files name the locked paths but not the process, so the workflow
records the owner itself: ``onstart`` (after snakemake took the lock) writes
``.snakemake/locks/owner.json`` with the host and process id; snakemake's own unlock
removes the whole ``locks`` folder, the record with it. When a later run finds lock files,
:func:`explain_lock` tells from the record whether their owner still runs, in one line with
the command that clears a stale lock. The lock is never removed here: a run in another
terminal, or on another host sharing the folder, cannot be ruled out from the lock alone.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

__all__ = ["explain_lock", "record_lock_owner"]

OWNER_FILE = "owner.json"
UNLOCK = (
    "snakemake --unlock with the same --configfile/--config/--workflow-profile options, then "
    "the same command again (the default profile's rerun-incomplete redoes the jobs that were "
    "cut off)"
)


def _lock_dir(snakemake_dir) -> Path:
    return Path(snakemake_dir) / "locks"


def record_lock_owner(snakemake_dir=".snakemake") -> None:
    """Write the running snakemake's host and process id next to its lock files."""
    lock_dir = _lock_dir(snakemake_dir)
    if not lock_dir.is_dir():
        return
    owner = {"host": socket.gethostname(), "pid": os.getpid()}
    (lock_dir / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def explain_lock(snakemake_dir=".snakemake") -> str | None:
    """One line about lock files left in ``snakemake_dir`` (None: there are none)."""
    lock_dir = _lock_dir(snakemake_dir)
    if not lock_dir.is_dir() or not any(lock_dir.glob("*.lock")):
        return None
    where = f"{lock_dir}"
    try:
        owner = json.loads((lock_dir / OWNER_FILE).read_text(encoding="utf-8"))
        host, pid = str(owner["host"]), int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return (
            f"{where}: locked by an earlier snakemake run that did not record itself; if no "
            f"other snakemake runs in this directory, that run was interrupted: {UNLOCK}"
        )
    if host == socket.gethostname() and not _running(pid):
        return (
            f"{where}: stale lock of snakemake process {pid} on {host}, which no longer runs "
            f"(the run was killed): {UNLOCK}"
        )
    state = "still running" if host == socket.gethostname() else "on another host"
    return (
        f"{where}: locked by snakemake process {pid} on {host} ({state}); wait for it to end, "
        f"or if it is gone: {UNLOCK}"
    )
