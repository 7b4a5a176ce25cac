"""Output folders that are either complete or untouched.

`uhopc compile -o DIR` on a full disk once left `kernel.cl` cut at 4096 bytes next to another
run's `report.json`. So every output is written into a fresh temporary folder beside DIR and
moved into place only once it is complete; an existing DIR is swapped out in one step (Linux
renameat2 RENAME_EXCHANGE where the C library has it, else two renames a moment apart) and then
removed. A failure part-way removes the temporary folder and leaves DIR as it was.
`unwritable_reason` is the check made before any work, so a bad -o costs nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional

__all__ = ["OutputFolderError", "unwritable_reason", "write_folder", "OUTPUT_NAMES"]

# What uhopc itself writes into an output folder: only a folder holding nothing else is replaced,
# so `-o ~/project` cannot delete the user's files.
OUTPUT_NAMES = frozenset({"kernel.cl", "kernel.cu", "spec.json", "report.json", "host"})
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputFolderError(Exception):
    """The outputs could not be written; the message says why and what was left on disk."""


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def unwritable_reason(outdir: Path, replaced: bool = True, also: Iterable[str] = ()) -> Optional[str]:
    """Why `outdir` cannot receive the outputs, or None. Missing parents are created later,
    so the nearest existing ancestor must be a folder this process may write into. `replaced`:
    the folder is swapped as a whole (write_folder), so it may hold only uhopc's outputs
    (OUTPUT_NAMES and `also`: the names a target's project writes, see Target.output_names)."""
    names = OUTPUT_NAMES | frozenset(also)
    outdir = Path(outdir)
    if outdir.exists() or outdir.is_symlink():
        if not outdir.is_dir():
            return f"{outdir} exists and is not a folder"
        if not os.access(outdir, os.W_OK | os.X_OK):
            return f"the folder {outdir} is not writable"
        try:
            foreign = sorted(p.name for p in outdir.iterdir() if p.name not in names) if replaced else []
        except OSError as e:
            return f"cannot read the folder {outdir}: {e.strerror or e}"
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            return (f"{outdir} holds files uhopc did not write ({shown}); it would be replaced as a whole, "
                    "so choose an empty or new folder")
    parent = outdir.absolute().parent
    base = _nearest_existing(parent)
    if not base.is_dir():
        return f"cannot create {parent}: {base} is not a folder"
    if not os.access(base, os.W_OK | os.X_OK):
        if base == parent:
            return f"the folder {parent} is not writable"
        return f"cannot create {parent}: the folder {base} is not writable"
    return None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _move_into_place(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
        return
    if _exchange(tmp, dest):  # tmp now holds the old outputs (or the symlink -o named)
        if tmp.is_symlink():
            tmp.unlink()
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    os.rename(dest, old / dest.name)
    try:
        os.rename(tmp, dest)
    except OSError:
        os.rename(old / dest.name, dest)  # put the old folder back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def write_folder(dest: Path, fill: Callable[[Path], None], also: Iterable[str] = ()) -> Path:
    """Run `fill(tmp)` on a new folder beside `dest`, then put it in `dest`'s place (`also`: see
    unwritable_reason). OutputFolderError (with `dest` unchanged and no temporary folder left) on any failure."""
    dest = Path(dest)
    why = unwritable_reason(dest, also=also)
    if why:
        raise OutputFolderError(why)
    tmp = None
    try:
        dest.absolute().parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.absolute().parent))
        fill(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; an output folder is an ordinary one
        _move_into_place(tmp, dest.absolute())
        tmp = None
    except OSError as e:
        what = e.strerror or str(e)
        where = f" (writing {Path(e.filename).name})" if getattr(e, "filename", None) else ""
        kept = "the old folder is unchanged" if dest.exists() else "nothing was written"
        raise OutputFolderError(f"could not write the outputs to {dest}: {what}{where}; {kept}") from e
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
