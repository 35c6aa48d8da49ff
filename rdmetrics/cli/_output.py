"""Safe outputs for every command: check the target before any work, stage, then move into place atomically.

Rules (one place for all commands, the demo included):

* A target that exists but is not a regular file (file outputs) or not a real folder (folder outputs) is refused:
  a symbolic link, a device node, a FIFO or a socket is never written through or replaced.
* An existing non-empty target is refused unless ``overwrite=True`` (the ``--overwrite`` option). Both checks run
  when the helper is created, so a command creates it before it loads or computes anything.
* A file is written to a temporary file in the target's own folder and renamed over the target (``os.replace``).
* A folder is built in a private staging folder next to the target (``.NAME.tmp-XXXXXX``) and renamed into place
  when complete. With ``overwrite=True`` an existing folder is replaced as a whole (renamed aside, the new one
  renamed in, the old one deleted), so no file from an earlier run survives. An error or Ctrl-C before that
  deletes the staging folder: the target is left exactly as it was.
* Files get ordinary permissions (``0o666`` / ``0o777`` minus the umask), not the ``0o600`` of temporary files.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from types import TracebackType

from rdmetrics.cli._common import CLIError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def check_file_target(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse ``path`` as an output file unless it is absent, or an empty / (with ``overwrite``) any regular file.

    Its folder must exist. Returns the path.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> check_file_target(os.path.join(d, "new.json")).name
        'new.json'
        >>> check_file_target(d)
        Traceback (most recent call last):
        ...
        rdmetrics.cli._common.CLIError: output ... exists and is a folder, not a file; refusing to replace it
        >>> __import__("shutil").rmtree(d)
    """
    p = Path(path)
    st = _lstat(p)
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise CLIError(f"output {p} exists and is {_kind(st.st_mode)}, not a file; refusing to replace it")
        if st.st_size > 0 and not overwrite:
            raise CLIError(f"output {p} already exists (use --overwrite to replace it)")
    parent = p.parent
    if not parent.is_dir():
        raise CLIError(f"output folder does not exist: {parent}")
    return p


def write_file_atomic(path: str | os.PathLike[str], data: str | bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    p = check_file_target(path, overwrite=overwrite)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.tmp-", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        check_file_target(p, overwrite=overwrite)  # still safe to replace (nothing appeared meanwhile)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def check_dir_target(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse ``path`` as an output folder unless it is absent, an empty folder, or (with ``overwrite``) a folder.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> check_dir_target(d) == __import__("pathlib").Path(d)  # empty folder: fine
        True
        >>> _ = open(os.path.join(d, "old.txt"), "w").close()
        >>> check_dir_target(d)
        Traceback (most recent call last):
        ...
        rdmetrics.cli._common.CLIError: output folder ... is not empty (use --overwrite to replace it)
        >>> __import__("shutil").rmtree(d)
    """
    p = Path(path)
    if p.name in ("", ".", "..") or Path(os.path.abspath(p)).parent == Path(os.path.abspath(p)):
        raise CLIError(f"output folder {str(path)!r} must name a folder (not '.', '..' or the root)")
    st = _lstat(p)
    if st is None:
        return p
    if not stat.S_ISDIR(st.st_mode):
        raise CLIError(f"output {p} exists and is {_kind(st.st_mode)}, not a folder; refusing to replace it")
    if any(os.scandir(p)):
        if not overwrite:
            raise CLIError(f"output folder {p} is not empty (use --overwrite to replace it)")
        here = Path.cwd().resolve()
        if here == p.resolve() or p.resolve() in here.parents:
            raise CLIError(f"output folder {p} contains the current directory; refusing to replace it")
    return p


class StagedDir:
    """An output folder built in a staging folder next to it and moved into place only when complete.

    The target is checked (:func:`check_dir_target`) on construction, so create this before doing any work. The
    staging folder is created on first use (:attr:`dir`, :meth:`path`, ``with``); it is private (``0o700``) while
    it is filled. Leaving the ``with`` block normally commits, an exception aborts (deleting the staging folder).

    Example:
        >>> import tempfile, os
        >>> target = os.path.join(tempfile.mkdtemp(), "out")
        >>> with StagedDir(target) as stage:
        ...     _ = stage.path("a.txt").write_text("hello")
        >>> sorted(os.listdir(target)), os.listdir(os.path.dirname(target))
        (['a.txt'], ['out'])
        >>> __import__("shutil").rmtree(os.path.dirname(target))
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = check_dir_target(target, overwrite=overwrite)
        self.overwrite = overwrite
        self._tmp: Path | None = None
        self._made_parents: list[Path] = []
        self.committed = False

    @property
    def dir(self) -> Path:
        """The staging folder (created on first access); write everything of the output under it."""
        if self.committed:
            raise RuntimeError("output already committed")
        if self._tmp is None:
            parent = self.target.parent
            missing = []
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for p in reversed(missing):
                p.mkdir()
                self._made_parents.append(p)
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-", dir=self.target.parent))
        return self._tmp

    def path(self, name: str) -> Path:
        """Path of the output file ``name`` (a plain file name, no folders) inside the staging folder."""
        if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
            raise ValueError(f"output file names must be plain file names, got {name!r}")
        return self.dir / name

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` (UTF-8) to the output file ``name``."""
        p = self.path(name)
        p.write_text(text, encoding="utf-8")
        return p

    def commit(self) -> list[Path]:
        """Move the staged folder into place; returns the final paths of the top-level entries."""
        tmp = self.dir
        names = sorted(os.listdir(tmp))
        mode = 0o777 & ~_umask()
        os.chmod(tmp, mode)
        check_dir_target(self.target, overwrite=self.overwrite)  # nothing unsafe appeared meanwhile
        old: Path | None = None
        if self.target.is_dir() and any(os.scandir(self.target)):
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-", dir=self.target.parent))
            os.replace(self.target, old)  # a folder onto an empty folder: atomic on POSIX
        try:
            os.replace(tmp, self.target)
        except BaseException:
            if old is not None:
                os.replace(old, self.target)
            raise
        self.committed = True
        self._tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return [self.target / n for n in names]

    def abort(self) -> None:
        """Delete the staging folder (and folders created for it); the target is left untouched."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        for p in reversed(self._made_parents):
            try:
                p.rmdir()
            except OSError:
                break
        self._made_parents = []

    def __enter__(self) -> StagedDir:
        _ = self.dir
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            if not self.committed:
                try:
                    self.commit()
                except BaseException:
                    self.abort()
                    raise
        else:
            self.abort()


__all__ = ["StagedDir", "check_dir_target", "check_file_target", "write_file_atomic"]
