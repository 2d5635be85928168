"""Report folders written whole or not at all, for every harness report (``run``'s and the benchmark's).

A report is filled in a hidden staging folder beside its final place and renamed into place at the end, so a reader
never sees half a report; a ``latest`` symlink is then switched to it by rename. Public API::

    from harness import files
    files.check_writable(root)                  # OSError now, not after a long run
    files.why_unwritable(root, error)           # that OSError in words ("reports is a file, not a directory")
    files.check_name(root / name)               # OSError (ENAMETOOLONG) if the folder name cannot be created
    path = files.publish(root / name, fill)     # fill(staging: Path) writes the report's files into staging
    path = files.publish(target, fill, exclusive=False)  # replace an earlier report at ``target`` whole
    files.publish(..., latest=False)            # a report that must not become ``latest`` (a planted-fault run)

``publish`` also removes what earlier writers killed mid-write left behind (their staging folders), never a folder
whose writer is still alive: a staging folder's name carries its writer's process id and start time,
``.<name>.w<pid>-<start>.<random>``. ``latest`` is only created or switched when it is missing or is a symlink to one
of the harness's report folders (a folder holding a run report's or a benchmark report's files, ``REPORT_FILES``),
never when it is a user's file, folder or link.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

LATEST = "latest"
#: The files that make a folder one of the harness's reports: a ``run`` report, a benchmark report.
REPORT_FILES = ({"report.md", "metrics.json"}, {"bench.md", "bench.csv"})
#: Bytes a folder name needs beyond its own: the staging prefix and suffix (writer id, random part).
_NAME_ROOM = 48
_STAGING = re.compile(r"^\..*\.w(\d+)-(\d+|x)\.[^.]+$")
_MAX_COLLISIONS = 1000


def _warn(message: str) -> None:
    print(f"funcad-compare: warning: {message}", file=sys.stderr)


def check_writable(directory: Path) -> None:
    """Raise OSError unless a report can be created in ``directory`` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.rmdir(tempfile.mkdtemp(prefix=".probe.", dir=directory))


def why_unwritable(directory: Path, error: OSError) -> str:
    """Why ``check_writable(directory)`` raised ``error``, in words: a file standing where a folder must be (the OS
    says only "File exists" or "Not a directory"), else the OS's reason."""
    directory = Path(os.path.abspath(directory))
    blocker = next((folder for folder in (directory, *directory.parents) if folder.exists() and not folder.is_dir()), None)
    return f"{blocker} is a file, not a directory" if blocker is not None else str(error.strerror or error)


def _limit(path: Path, name: str, default: int) -> int:
    existing = Path(os.path.abspath(path))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return os.pathconf(existing, name)
    except (OSError, ValueError):
        return default


def check_name(target: Path) -> None:
    """Raise OSError(ENAMETOOLONG) when ``target``'s name or path is too long to create (with room for staging)."""
    target = Path(os.path.abspath(target))
    name_max, path_max = _limit(target.parent, "PC_NAME_MAX", 255), _limit(target.parent, "PC_PATH_MAX", 4096)
    longest = max((len(os.fsencode(part)) for part in target.parts), default=0)
    if longest + _NAME_ROOM > name_max:
        raise OSError(errno.ENAMETOOLONG, f"a folder name of {longest} bytes is too long (at most {name_max - _NAME_ROOM} here)")
    if len(os.fsencode(str(target))) + _NAME_ROOM + 32 > path_max:
        raise OSError(errno.ENAMETOOLONG, f"the path is too long ({len(os.fsencode(str(target)))} bytes, at most "
                                          f"{path_max - _NAME_ROOM - 32} here)")


# -- writers and their leftovers ------------------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused process id from the writer."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return start is None or _start_time(pid) in (None, start)


def _staging(parent: Path, name: str) -> Path:
    """A new hidden folder in ``parent`` whose name says that this process writes it."""
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f".{name}.w{pid}-{_start_time(pid) or 'x'}.", dir=parent))


def remove_leftovers(parent: Path) -> list[Path]:
    """Remove the staging folders and temporary links in ``parent`` whose writer process is gone; return them."""
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        staging = _STAGING.match(entry.name)
        if staging and entry.is_dir() and not entry.is_symlink():
            start = None if staging[2] == "x" else staging[2]
            if not _alive(int(staging[1]), start):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        elif entry.name.startswith(f".{LATEST}.") and entry.name.rsplit(".", 1)[-1].isdigit() and entry.is_symlink():
            if not _alive(int(entry.name.rsplit(".", 1)[-1]), None):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def is_report(folder: Path) -> bool:
    """Whether ``folder`` is one of the harness's report folders (a real folder holding one of ``REPORT_FILES``)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    return any(kind <= names for kind in REPORT_FILES)


# -- publishing ----------------------------------------------------------------------------------------------------------

def _candidates(target: Path):
    yield target
    for n in range(2, _MAX_COLLISIONS):
        yield target.with_name(f"{target.name}-{n}")


def _move_into_place(staging: Path, target: Path, exclusive: bool) -> Path:
    if not exclusive and target.exists():
        holder = _staging(target.parent, f"{target.name}.old")
        os.replace(target, holder / target.name)  # the earlier report is kept until the new one is in place
        os.replace(staging, target)
        shutil.rmtree(holder, ignore_errors=True)
        return target
    for candidate in _candidates(target):
        try:  # rename fails on an existing non-empty folder: a new report never replaces another run's
            os.rename(staging, candidate)
            return candidate
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise
    raise OSError(errno.EEXIST, f"{target} and {_MAX_COLLISIONS} suffixed names exist")


def publish(target: Path, fill: Callable[[Path], None], *, exclusive: bool = True, latest: bool = True) -> Path:
    """Write a report folder whole at ``target`` and return where it went.

    ``fill(staging)`` writes the files. With ``exclusive`` (default) the folder is new: when ``target`` is taken
    (by another run started in the same second, say) it becomes ``target-2``, ``target-3``, ... Without it an
    existing ``target`` (which the caller has checked is an earlier report) is replaced whole. With ``latest`` the
    ``latest`` link beside it is switched to it (see ``switch_latest``). On any exception, a signal turned into one
    included, the staging folder is removed and nothing else changed. Raises OSError when the folder cannot be made.
    """
    target = Path(os.path.abspath(target))
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(parent)
    staging = _staging(parent, target.name)
    try:
        fill(staging)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a report is for everyone who can read its parent
        final = _move_into_place(staging, target, exclusive)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if latest:
        switch_latest(final)
    return final


def made_by_harness(link: Path) -> bool:
    """Whether ``link`` is a ``latest`` the harness made: a symlink to one of its report folders beside it."""
    if not link.is_symlink():
        return False
    name = os.readlink(link)
    return bool(name) and "/" not in name and not name.startswith(".") and is_report(link.parent / name)


def switch_latest(folder: Path, warn: Callable[[str], None] = _warn) -> bool:
    """Point ``latest`` beside ``folder`` at it, atomically (readers never see it missing); True when switched.

    A ``latest`` that is not the harness's own (a file, a folder, a link to anything else) is left as it is, with a
    warning through ``warn``.
    """
    link = folder.parent / LATEST
    if (link.exists() or link.is_symlink()) and not made_by_harness(link):
        warn(f"left {link} as it is: it is not a link the harness made to one of its reports; the report is {folder}")
        return False
    temporary = folder.parent / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    try:
        os.symlink(folder.name, temporary)
        os.replace(temporary, link)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        warn(f"could not point {link} at {folder}: {exc.strerror or exc}")
        return False
    return True
