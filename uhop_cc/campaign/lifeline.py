"""Worker processes die with the driver that started them.

    die_with_parent(parent_pid)     # first thing in a pool worker (the pool's initializer)

A SIGKILLed driver cannot shut its pool down, and pool workers hold a device context and a few
hundred MB each; before this they ran on, orphaned, for minutes. On Linux the kernel kills the
worker when its parent goes (prctl PR_SET_PDEATHSIG). That only covers a parent alive when prctl
runs, so the worker then checks that its parent is still the driver that spawned it (passed in,
since after the parent's death getppid() already names the reaper). Where prctl is missing or
refused, a daemon thread polls getppid() instead.

PR_SET_PDEATHSIG fires when the *thread* that forked the worker exits. ProcessPoolExecutor with
the spawn context starts workers from submit(), i.e. from the thread running the campaign, which
outlives its pool (run_campaign shuts the pool down before it returns).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "set_parent_death_signal"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(1)  # the driver is gone: nobody will read our results


def die_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Make this process end when `parent_pid` (its parent) ends."""
    armed = set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl: the signal will never come
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid, interval_s), name="uhopc-parent-watch",
                         daemon=True).start()
