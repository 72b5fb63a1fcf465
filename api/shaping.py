"""Answers built from records: a response model (or dataclass) takes the attributes of the same
names from a record, and only the fields that differ are spelled out."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from pydantic import BaseModel

Shaped = TypeVar("Shaped")


def from_attributes(shape: type[Shaped], source: object, **given: Any) -> Shaped:
    """`shape` (a pydantic model or a dataclass) filled from `source`'s attributes named like its
    fields, except the fields `given`."""
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        names = list(shape.model_fields)
    else:
        names = [f.name for f in dataclasses.fields(shape)]
    return shape(**{name: getattr(source, name) for name in names if name not in given}, **given)
