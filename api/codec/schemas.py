"""The Temporal Web UI's remote codec protocol: payloads as JSON with base64 metadata and data."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CodecPayload(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict, description="Each value base64")
    data: str = Field(default="", description="base64")


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload]
