"""Files under `CORRAL_HOME` hold API-key hashes, the HMAC secret and the admin key: they are
created readable by the user running corral and nobody else (directories 0700, files 0600),
whatever the process umask."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = stat.S_IRWXU
FILE_MODE = stat.S_IRUSR | stat.S_IWUSR


def private_dir(path: Path) -> Path:
    """`path` as a directory; made 0700 if it is new (an existing one is left as it is)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """`path` as an (empty if new) 0600 file in a private directory. SQLite gives its -wal,
    -shm and journal files the mode of the database file, so creating that one is enough."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path
