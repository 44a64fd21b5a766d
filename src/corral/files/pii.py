"""How much personal data a fine-tuning file holds: counts per category, never the values.

A tenant training on its own data should know what it is about to bake into a model. The scan
reads the text of every message with the privacy detector (`corral.privacy`), bounded in size
and time: a file over the size bound is not scanned, one that runs out of time keeps the counts
it has, and the report says which.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corral.privacy.detect import DetectionTimeout, Detector


def scan_file(
    path: Path, size: int, detector: Detector, max_bytes: int, timeout_s: float
) -> dict[str, Any]:
    """The report: `status` (complete, partial or skipped), `counts` by category, `note`."""
    if size > max_bytes:
        return report(
            "skipped", Counter(), f"larger than files.pii_scan_max_bytes ({max_bytes} bytes)"
        )
    with path.open("rb") as lines:
        return scan_lines(lines, detector, time.monotonic() + timeout_s)


def scan_lines(lines: Iterable[bytes], detector: Detector, deadline: float) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        text = "\n".join(_texts(json.loads(raw)))
        try:
            spans = detector.detect(text, deadline)
        except DetectionTimeout:
            return report("partial", counts, f"stopped at line {number}: out of time")
        counts.update(span.label for span in spans)
    return report("complete", counts, None)


def report(status: str, counts: Counter[str], note: str | None) -> dict[str, Any]:
    return {"status": status, "counts": dict(sorted(counts.items())), "note": note}


def _texts(example: dict[str, Any]) -> Iterable[str]:
    """The text of an example's messages (a checked fine-tuning line), parts included."""
    for message in example["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield part["text"]
