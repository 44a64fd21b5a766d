"""Anthropic's stream events (`message_start` ... `message_stop`) to corral's stream events.

`text_delta`s become `TextDelta`s; a `tool_use` block's start and its `input_json_delta`s become
`ToolCallDelta`s (the first with the call's id and name); `message_stop` gives the one
`Finished`, with the stop reason and exact usage of `message_delta`. Until that usage arrives the
meter holds estimates of the streamed text, so a client that leaves early is still billed.
Under JSON emulation the `respond` tool's input is streamed as the answer text.
"""

from __future__ import annotations

import json

from anthropic.types import (
    InputJSONDelta,
    MessageDeltaUsage,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    TextBlock,
    ToolUseBlock,
)
from anthropic.types import TextDelta as AnthropicTextDelta

from corral.backends.anthropic_api.translate import JsonEmulation, finish_reason, usage_of
from corral.backends.base import (
    Finished,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageMeter,
)
from corral.backends.remote.common import meter_text


class MalformedStream(Exception):
    """The provider's stream broke its own protocol."""


class StreamTranslator:
    """Feed it Anthropic's events in order; it returns corral's and keeps the meter current."""

    def __init__(self, meter: UsageMeter, emulation: JsonEmulation | None) -> None:
        self._meter = meter
        self._emulation = emulation
        self._calls: dict[int, int] = {}
        """Content block index -> tool call index (OpenAI numbers the calls alone)."""
        self._json_parts: dict[int, list[str]] = {}
        """Under wrapped JSON emulation: the `respond` input, kept whole to unwrap at its end."""
        self._reason: FinishReason = "stop"
        self._usage = Usage(0, 0)
        self.finished: Finished | None = None

    def feed(self, event: RawMessageStreamEvent) -> list[StreamEvent]:
        if isinstance(event, RawMessageStartEvent):
            self._started(usage_of(event.message.usage))
        elif isinstance(event, RawContentBlockStartEvent):
            return self._block_start(event)
        elif isinstance(event, RawContentBlockDeltaEvent):
            return self._delta(event)
        elif isinstance(event, RawContentBlockStopEvent):
            return self._block_stop(event.index)
        elif isinstance(event, RawMessageDeltaEvent):
            self._reason = finish_reason(event.delta.stop_reason, self._emulation is not None)
            self._final_usage(event.usage)
        elif isinstance(event, RawMessageStopEvent):
            self.finished = Finished(self._reason, self._usage)
            return [self.finished]
        return []

    def _started(self, usage: Usage) -> None:
        self._usage = usage
        self._meter.prompt_tokens = usage.prompt_tokens
        self._meter.completion_tokens = max(self._meter.completion_tokens, usage.completion_tokens)

    def _final_usage(self, usage: MessageDeltaUsage) -> None:
        """`message_delta` counts are cumulative and exact: they replace the estimates."""
        prompt = self._usage.prompt_tokens
        if usage.input_tokens is not None:
            cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            prompt = usage.input_tokens + cached
        self._usage = Usage(prompt, usage.output_tokens)
        self._meter.prompt_tokens = prompt
        self._meter.completion_tokens = usage.output_tokens

    def _block_start(self, event: RawContentBlockStartEvent) -> list[StreamEvent]:
        block = event.content_block
        if isinstance(block, TextBlock) and block.text and self._emulation is None:
            meter_text(self._meter, block.text)
            return [TextDelta(block.text)]
        if not isinstance(block, ToolUseBlock):
            return []
        if self._emulation is not None:
            self._json_parts[event.index] = []
            return []
        self._calls[event.index] = len(self._calls)
        return [ToolCallDelta(self._calls[event.index], id=block.id, name=block.name)]

    def _delta(self, event: RawContentBlockDeltaEvent) -> list[StreamEvent]:
        delta = event.delta
        if isinstance(delta, AnthropicTextDelta):
            meter_text(self._meter, delta.text)
            return [] if self._emulation is not None else [TextDelta(delta.text)]
        if not isinstance(delta, InputJSONDelta):
            return []
        meter_text(self._meter, delta.partial_json)
        if event.index in self._calls:
            return [ToolCallDelta(self._calls[event.index], arguments=delta.partial_json)]
        parts = self._json_parts.get(event.index)
        if parts is None or self._emulation is None:
            raise MalformedStream(f"input_json_delta for block {event.index}, not a tool_use")
        if self._emulation.wrapped:
            parts.append(delta.partial_json)
            return []
        return [TextDelta(delta.partial_json)] if delta.partial_json else []

    def _block_stop(self, index: int) -> list[StreamEvent]:
        if self._emulation is None or not self._emulation.wrapped or index not in self._json_parts:
            return []
        text = "".join(self._json_parts.pop(index))
        try:
            tool_input = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise MalformedStream(f"the streamed tool input is not JSON: {exc}") from None
        return [TextDelta(self._emulation.answer(tool_input))]
