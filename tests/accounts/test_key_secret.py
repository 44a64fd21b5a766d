"""The server secret that keys the API-key hashes: made once, the same in every process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from corral.accounts.keys import load_or_create_secret


def test_workers_making_the_secret_at_once_all_read_the_one_that_was_kept(
    tmp_path: Path,
) -> None:
    """`serve --workers N` starts N processes on a new home; a worker that read a secret the
    others did not keep would answer 401 to every key made since."""
    for attempt in range(40):
        path = tmp_path / f"home{attempt}" / "key-secret"
        start = threading.Barrier(8)

        def make(n: int, path: Path = path, start: threading.Barrier = start) -> str:
            start.wait()
            return load_or_create_secret(path, f"secret-{n}")

        with ThreadPoolExecutor(8) as pool:
            read = list(pool.map(make, range(8)))

        assert len(set(read)) == 1 and read[0].startswith("secret-")
        assert read[0] == path.read_text().strip()
        assert [p.name for p in path.parent.iterdir()] == ["key-secret"]  # no drafts left
