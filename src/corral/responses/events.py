"""A streamed response as the Responses API's typed events.

`response.created` and `response.in_progress` first; then, per output item, `output_item.added`,
its deltas (`output_text.delta` within a `content_part`, or `function_call_arguments.delta`)
and their `.done` events; last `response.completed` (or `response.incomplete` when the answer
was cut by `max_output_tokens`). Every event carries a `sequence_number`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from corral.backends.base import Finished, StreamEvent, TextDelta, ToolCall, ToolCallDelta
from corral.errors import CorralError
from corral.responses import items


@dataclass(slots=True)
class _OpenItem:
    index: int
    item: items.Item
    text: str = ""


@dataclass(slots=True)
class EventWriter:
    response_id: str
    model: str
    settings: dict[str, Any]
    _sequence: int = 0
    _output: list[items.Item] = field(default_factory=list)
    _open: _OpenItem | None = None

    async def frames(
        self, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[bytes | dict[str, Any]]:
        """The SSE frames of the stream, then the final response object (not sent)."""
        yield self._event("response.created", response=self._response(None))
        yield self._event("response.in_progress", response=self._response(None))
        try:
            async for event in events:
                for frame in self._frames_of(event):
                    yield frame
                if isinstance(event, Finished):
                    final = self._response(event)
                    kind = "completed" if final["status"] == "completed" else "incomplete"
                    yield self._event(f"response.{kind}", response=final)
                    yield final
        except CorralError as exc:
            yield self._event("error", code=exc.code, message=exc.message, param=exc.param)

    def _frames_of(self, event: StreamEvent) -> list[bytes]:
        if isinstance(event, TextDelta):
            frames = [] if self._open_kind() == "message" else self._open_message()
            assert self._open is not None
            self._open.text += event.text
            return [
                *frames,
                self._event(
                    "response.output_text.delta", **self._at(), delta=event.text, logprobs=[]
                ),
            ]
        if isinstance(event, ToolCallDelta):
            frames = []
            if event.id is not None:
                frames = self._close() + self._open_call(event)
            assert self._open is not None
            self._open.text += event.arguments
            return [
                *frames,
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=self._open.item["id"],
                    output_index=self._open.index,
                    delta=event.arguments,
                ),
            ]
        return self._close()

    def _open_kind(self) -> str | None:
        return self._open.item["type"] if self._open is not None else None

    def _open_message(self) -> list[bytes]:
        frames = self._close()
        item = items.message_item("", status="in_progress")
        item["content"] = []
        self._open = _OpenItem(len(self._output), item)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [
            *frames,
            self._event("response.output_item.added", output_index=self._open.index, item=item),
            self._event("response.content_part.added", **self._at(), part=part),
        ]

    def _open_call(self, event: ToolCallDelta) -> list[bytes]:
        call = ToolCall(event.id or "", event.name or "", "")
        item = items.call_item(call, status="in_progress")
        self._open = _OpenItem(len(self._output), item)
        return [self._event("response.output_item.added", output_index=self._open.index, item=item)]

    def _close(self) -> list[bytes]:
        opened, self._open = self._open, None
        if opened is None:
            return []
        item, index = opened.item, opened.index
        if item["type"] == "message":
            done = items.message_item(opened.text, item_id=item["id"])
            part = done["content"][0]
            at = {"item_id": item["id"], "output_index": index, "content_index": 0}
            frames = [
                self._event("response.output_text.done", **at, text=opened.text, logprobs=[]),
                self._event("response.content_part.done", **at, part=part),
            ]
        else:
            call = ToolCall(item["call_id"], item["name"], opened.text)
            done = items.call_item(call, item_id=item["id"])
            frames = [
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    arguments=opened.text,
                )
            ]
        self._output.append(done)
        return [*frames, self._event("response.output_item.done", output_index=index, item=done)]

    def _at(self) -> dict[str, Any]:
        assert self._open is not None
        return {
            "item_id": self._open.item["id"],
            "output_index": self._open.index,
            "content_index": 0,
        }

    def _response(self, finished: Finished | None) -> dict[str, Any]:
        usage = finished.usage if finished is not None else None
        reason = finished.reason if finished is not None else None
        return items.response_object(
            self.response_id, self.model, self.settings, list(self._output), usage, reason
        )

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
