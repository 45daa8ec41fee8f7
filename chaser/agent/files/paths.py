"""Path checks shared by the file ops, and OSError → OpError translation in one place."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BadRequest, FileNotFound, IsADirectory, NotADirectory, OpError, PermissionDenied


def absolute(path: object) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequest(f"path must be absolute, got {path!r}", code="invalid_path")
    return os.path.normpath(path)


@contextmanager
def os_errors(path: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise FileNotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise IsADirectory(f"{path}: is a directory") from None
    except NotADirectoryError:
        raise NotADirectory(f"{path}: a parent is not a directory") from None
    except PermissionError:
        raise PermissionDenied(f"{path}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OpError(f"{path}: no space left on device", code="no_space") from None
        raise OpError(f"{path}: {exc.strerror}", code="io_error") from None
