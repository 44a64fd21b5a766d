"""Turning a stream of token bytes into text: UTF-8 reassembly and stop-sequence matching."""

from __future__ import annotations

import codecs


class Utf8Assembler:
    """Emits text only once its bytes form whole characters (a token may hold half of one)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        return self._decoder.decode(data)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Finds the first stop sequence in streamed text.

    Text that could still turn out to be the start of a stop sequence is held back, so the
    client never sees any part of a stop sequence, even when it spans several tokens.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what is safe to emit now. Sets `stopped` on a match."""
        if not self._stops:
            return text
        self._pending += text
        cut = self._first_match()
        if cut is not None:
            self.stopped = True
            emitted, self._pending = self._pending[:cut], ""
            return emitted
        keep = self._held_back_length()
        emitted = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return emitted

    def flush(self) -> str:
        emitted, self._pending = self._pending, ""
        return emitted

    def _first_match(self) -> int | None:
        positions = [p for p in (self._pending.find(s) for s in self._stops) if p >= 0]
        return min(positions) if positions else None

    def _held_back_length(self) -> int:
        tail = self._pending[-(self._longest - 1) :] if self._longest > 1 else ""
        for start in range(len(tail)):
            suffix = tail[start:]
            if any(s.startswith(suffix) for s in self._stops):
                return len(suffix)
        return 0
