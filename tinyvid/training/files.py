"""Writing a file so that a reader sees the old version or the new one, never half of either.

    atomic_write("model.weights.npz", lambda file: np.savez(file, **arrays))

The bytes go to a temporary file beside the target, `.model.weights.npz.tmp` (one fixed name
per target), which is flushed to disk and then renamed over the target with `os.replace`, a
single step on POSIX and Windows. A write killed half-way leaves only that temporary behind,
and the next write to the same target removes it first, so killed saves never pile up.

The new file gets the mode a plain `open(path, "w")` would give it: the replaced file's mode
when there is one, otherwise 0o666 minus the process's umask (not mkstemp's private 0o600).
Every failure, a full disk included, is an OSError that names the target file.
"""

import os
import pathlib
import stat
from collections.abc import Callable
from typing import IO, Union

PathLike = Union[str, "os.PathLike[str]"]


def temporary_path(path: PathLike) -> pathlib.Path:
    """The one temporary name used while `path` is written: `.<name>.tmp` in the same folder."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}.tmp")


def atomic_write(path: PathLike, write_fn: Callable[[IO[bytes]], object], what: str = "") -> None:
    """Call `write_fn(file)` on a new binary file and make it `path` in one rename.

    Args:
        path: the file to create or replace.
        write_fn: writes the whole content to the open binary file it is given.
        what: who is writing (e.g. "save_weights"), put at the start of error messages.

    Raises:
        OSError (or a subclass, e.g. PermissionError): naming `path`; the target is unchanged
            and no temporary is left behind. Any other exception from `write_fn` passes through
            after the same clean-up.
    """
    path = pathlib.Path(path)
    temporary = temporary_path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: os.open's 0o666 minus the umask
    except OSError as error:
        raise _naming(error, path, what) from error
    try:
        temporary.unlink(missing_ok=True)  # a stale one from a killed write to this target
        # O_EXCL: a second writer of the same target at the same moment fails instead of
        # writing into this writer's file.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    except OSError as error:
        raise _naming(error, path, what) from error
    try:
        with os.fdopen(handle, "wb") as file:
            write_fn(file)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename: no rename exposes a partial file
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _naming(error, path, what) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _naming(error: OSError, path: pathlib.Path, what: str) -> OSError:
    """The same kind of OSError (same errno, same subclass), its message naming `path`."""
    prefix = f"{what}: " if what else ""
    if error.errno is None:
        return OSError(f"{prefix}cannot write '{path}': {error}")
    return OSError(error.errno, f"{prefix}{error.strerror}", str(path))  # "...: '<path>'"


def _sync_folder(folder: pathlib.Path) -> None:
    """Flush the folder's entry for the renamed file (POSIX); best effort, never an error."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
