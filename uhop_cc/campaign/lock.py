"""One campaign run per campaign directory: an OS lock on `<out>/campaign.lock`.

    lock = CampaignLock.acquire(out_dir)     # raises CampaignBusy naming the run that holds it
    try:
        ...                                  # the run
    finally:
        lock.release()

The lock is `flock` on a file held open for the run's lifetime, so the kernel drops it when the
owner dies however it dies (SIGKILL, OOM, power loss of a local disk): a stale file never blocks
a resume, and no pid has to be guessed alive or dead. The file holds the owner's pid, host, start
time and command line, only so that the refusal can say who is running; the lock itself is the
flock, not the text. The file is never deleted: unlinking a lock file lets two processes lock two
different inodes of the same name.
"""
from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .state import StateError, now_iso

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: runs are not locked against each other
    fcntl = None  # type: ignore[assignment]

__all__ = ["CampaignLock", "CampaignBusy", "LOCK_NAME", "lock_owner", "describe_owner"]

LOCK_NAME = "campaign.lock"


class CampaignBusy(StateError):
    """Another live run holds the campaign directory; `owner` is what it wrote in the lock file."""

    def __init__(self, message: str, owner: Dict[str, Any]):
        super().__init__(message)
        self.owner = owner


def _command_line() -> str:
    """The exact command of this process (sys.argv loses `python -m` and the interpreter)."""
    try:
        raw = Path("/proc/self/cmdline").read_bytes()
        parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
        if parts:
            return shlex.join(parts)
    except OSError:
        pass
    return shlex.join([sys.executable] + sys.argv)


def lock_owner(path: Union[str, Path]) -> Dict[str, Any]:
    """What the lock file says about its owner ({} when empty or unreadable)."""
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_owner(owner: Dict[str, Any]) -> str:
    if not owner:
        return "a run that has not written its details yet"
    return (f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, started {owner.get('started', '?')}, "
            f"command: {owner.get('command', '?')}")


class CampaignLock:
    def __init__(self, path: Path, fd: Optional[int]):
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, out_dir: Union[str, Path]) -> "CampaignLock":
        """Lock `out_dir` for this process or raise CampaignBusy (another run holds it) or
        StateError (the lock file cannot be opened)."""
        path = Path(out_dir) / LOCK_NAME
        if fcntl is None:  # pragma: no cover
            return cls(path, None)
        try:
            # os.open fds are not inherited by spawned workers (PEP 446), so only this process holds it
            fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StateError(f"cannot open the campaign lock {path}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            owner = _read_owner(path)
            raise CampaignBusy(f"campaign directory {Path(out_dir)} is in use by another run ({describe_owner(owner)}); "
                               f"wait for it to finish or stop it, then run again to resume", owner) from None
        lock = cls(path, fd)
        lock._write_owner()
        return lock

    def _write_owner(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": now_iso(), "command": _command_line()}
        data = (json.dumps(info) + "\n").encode()
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
        except OSError:  # a full disk: the flock still protects the run, only the message is poorer
            pass

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # no stale owner details for the next reader
        except OSError:
            pass
        os.close(self._fd)  # closing the last fd of the open file drops the flock
        self._fd = None

    def __enter__(self) -> "CampaignLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_owner(path: Path, tries: int = 10) -> Dict[str, Any]:
    """The owner's details; it writes them just after it locks, so wait a moment for them."""
    for _ in range(tries):
        owner = lock_owner(path)
        if owner:
            return owner
        time.sleep(0.05)
    return {}
