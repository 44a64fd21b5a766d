"""What a local model's engine has done, for the metrics endpoint: sequences decoded together,
batch sizes, prefix-cache hits and the wait for a free sequence.

Written by the engine's threads (the scheduler's, or one per instance), read at scrape time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(slots=True)
class EngineStats:
    active_sequences: int = 0
    """Sequences being generated now (prompt reading included)."""
    steps: int = 0
    """Batched decodes made (`slots` > 1)."""
    step_tokens: int = 0
    """Tokens those decodes held, all together: / steps = the mean batch size."""
    cached_tokens: int = 0
    """Prompt tokens found already computed (a shared prefix) and not read again."""
    prefix_copies: int = 0
    """Prefixes copied from another sequence's cells (`slots` > 1)."""
    prefix_restores: int = 0
    """Prefixes copied back from host memory, where idle slots' cells are parked."""
    cache_full: int = 0
    """Sequences ended because the shared KV cache had no cell left (`slots` > 1)."""
    waits: int = 0
    wait_seconds: float = 0.0
    """Requests that got a sequence (or an instance), and their time queued for it in all."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def started(self) -> None:
        with self._lock:
            self.active_sequences += 1

    def hit(self, cached: int) -> None:
        with self._lock:
            self.cached_tokens += cached

    def ended(self) -> None:
        with self._lock:
            self.active_sequences -= 1

    def stepped(self, tokens: int) -> None:
        with self._lock:
            self.steps += 1
            self.step_tokens += tokens

    def copied(self) -> None:
        with self._lock:
            self.prefix_copies += 1

    def unparked(self) -> None:
        with self._lock:
            self.prefix_restores += 1

    def cache_was_full(self) -> None:
        with self._lock:
            self.cache_full += 1

    def waited(self, seconds: float) -> None:
        with self._lock:
            self.waits += 1
            self.wait_seconds += seconds
