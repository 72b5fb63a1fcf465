"""Connecting to Temporal with the settings (TLS and API key for a cluster or Temporal Cloud)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter

from domain.settings import Settings

# Building a pydantic TypeAdapter costs milliseconds. The SDK makes a fresh payload converter
# (and with it a fresh adapter cache) for every activity's serialization context, so without
# one cache shared by the whole process every activity call would build its adapters again.
_shared_type_adapter = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedCachePayloadConverter(PydanticPayloadConverter):
    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                converter._type_adapter = _shared_type_adapter  # noqa: SLF001

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


# The one data converter of every client, worker and replayer: pydantic JSON for
# dataclasses and models alike.
data_converter = DataConverter(payload_converter_class=_SharedCachePayloadConverter)


async def connect(settings: Settings) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key,
        data_converter=data_converter,
    )
