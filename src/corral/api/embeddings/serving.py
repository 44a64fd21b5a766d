"""Embeddings: vectors for each input, as floats or base64-packed little-endian float32."""

from __future__ import annotations

import array
import base64
import sys

from corral.api.embeddings.protocol import (
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
)
from corral.pipeline.gateway import Gateway, RequestContext


def encode_base64(vector: list[float]) -> str:
    """What OpenAI's `encoding_format="base64"` sends: the vector as little-endian float32."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


class EmbeddingServing:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def create(self, ctx: RequestContext, request: EmbeddingRequest) -> EmbeddingResponse:
        model = await self.gateway.resolve(ctx, request.model)
        result = await self.gateway.embed(ctx, model, request.inputs())
        as_base64 = request.encoding_format == "base64"
        data: list[Embedding] = [
            {
                "object": "embedding",
                "index": i,
                "embedding": encode_base64(v) if as_base64 else v,
            }
            for i, v in enumerate(result.vectors)
        ]
        usage: EmbeddingUsage = {
            "prompt_tokens": result.prompt_tokens,
            "total_tokens": result.prompt_tokens,
        }
        return {"object": "list", "data": data, "model": model.id, "usage": usage}
