"""File helpers: atomic writes and encoding-checked reads (internal)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import xxhash

from geo._errors import InputError, LifeCircleError
from geo.io.validate import warn


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any error the temporary file is removed and an existing ``target`` is left untouched.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}-",
            suffix=TMP_MARK + target.suffix,
            dir=target.parent,
        )
        os.close(fd)
    except OSError as exc:
        raise _write_error(target, exc) from None
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers (GDAL, pyarrow) prefer to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise _write_error(target, exc) from None
    except RuntimeError as exc:
        # GDAL (pyogrio) reports a failed write (disk full, EFBIG) as a RuntimeError subclass
        if type(exc).__module__.startswith("pyogrio"):
            raise _write_error(target, exc) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            if tmp_path.exists():
                tmp_path.unlink()


#: Marker in the names of temporary files (``.<name>.<random>.tmp<suffix>``).
TMP_MARK = ".tmp"


def _write_error(target: Path, exc: BaseException) -> InputError:
    text = str(exc).strip()
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else "")
    reason = reason or type(exc).__name__
    code = errno.errorcode.get(getattr(exc, "errno", None) or 0, "")
    return InputError(
        f"cannot write: {reason}" + (f" ({code})" if code else ""),
        path=target,
        hint="check that the results folder is writable and the disk has space",
    )


def remove_stale_tmp(folder: str | os.PathLike[str], *, max_age_s: float = 6 * 3600) -> list[Path]:
    """Remove temporary files (``.<name>.<pid>-<random>.tmp*``) left in ``folder`` by dead runs.

    A file goes when the process that made it is gone, or when it is older than ``max_age_s``
    (a name without a pid); a concurrent live run's file being written stays. Recursive.
    Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    for p in folder.rglob(".*" + TMP_MARK + "*"):
        m = _TMP_PID.match(p.name)
        with contextlib.suppress(OSError):
            if not p.is_file():
                continue
            dead = m is not None and not _pid_alive(int(m.group(1)))
            if dead or now - p.stat().st_mtime > max_age_s:
                p.unlink()
                removed.append(p)
    return removed


_TMP_PID = re.compile(r"^\..+\.(\d+)-[^.]*\.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fingerprint(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """Content hash of a file of any size (xxHash3-128, streamed; ~5 GB/s), as hex.

    Content, not name/size/mtime: a file changed in place with the same size and time, or
    copied with a new time, gets the right answer.
    """
    h = xxhash.xxh3_128()
    try:
        with Path(path).open("rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    return h.hexdigest()


def write_atomic(target: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def set_aside(path: str | os.PathLike[str], exc: BaseException) -> Path:
    """Move an unreadable results file aside (``<name>.unreadable-<time><suffix>``) and warn.

    Writers that merge new rows into an existing file call this when the old file cannot be
    read: the new file is written from this run, and nothing already written is lost.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.unreadable-{stamp}{path.suffix}")
    os.replace(path, target)
    warn(
        f"unreadable ({type(exc).__name__}: {exc}); kept as {target.name}, "
        "written anew from this run",
        path=path,
    )
    return target


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def read_text_utf8(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file; a GBK/GB18030 or otherwise non-UTF-8 file gets one clear error."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, expected a file", path=path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    return decode_utf8(data, path)


def decode_utf8(data: bytes, path: object) -> str:
    """Decode bytes as UTF-8 (BOM allowed) or raise a LifeCircleError naming the file and offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            data.decode("gb18030")
            hint = " It looks like GBK/GB18030: convert it with `iconv -f GBK -t UTF-8`."
        except UnicodeDecodeError:
            pass
        line = data[: exc.start].count(b"\n") + 1
        raise LifeCircleError(
            f"not valid UTF-8 at byte {exc.start} (line {line}); expected UTF-8 text.{hint}",
            path=path,
        ) from None


def check_utf8_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> None:
    """Stream-check that a (possibly large) file is UTF-8, without holding it in memory."""
    import codecs

    path = Path(path)
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    with path.open("rb") as fh:
        while True:
            block = fh.read(chunk)
            final = not block
            try:
                dec.decode(block, final=final)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                hint = ""
                with contextlib.suppress(UnicodeDecodeError):
                    block[exc.start : exc.start + 64].decode("gb18030", errors="strict")
                    hint = " It looks like GBK/GB18030: convert it with `iconv -f GBK -t UTF-8`."
                line += block[: exc.start].count(b"\n")
                raise LifeCircleError(
                    f"not valid UTF-8 at byte {bad} (line {line}); expected UTF-8.{hint}",
                    path=path,
                ) from None
            if final:
                return
            line += block.count(b"\n")
            offset += len(block)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a UTF-8 JSON file with errors that name the file, line and column."""
    text = read_text_utf8(path)
    if not text.strip():
        raise InputError("empty file, expected JSON", path=path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path
        ) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to read", path=path) from None
