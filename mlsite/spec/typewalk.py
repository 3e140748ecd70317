"""Find the model class and field behind a path in the site description."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from mlsite.spec.base import Secret

Path = tuple[str | int, ...]


def _candidates(tp: Any) -> list[Any]:
    """Flatten Annotated/Optional/Union into their member types."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _candidates(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [c for arg in get_args(tp) for c in _candidates(arg)]
    return [tp]


def _step(tp: Any, part: str | int) -> list[Any] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if isinstance(part, str) and part in tp.model_fields:
            return _candidates(tp.model_fields[part].annotation)
        return None
    origin = get_origin(tp)
    if origin in (tuple, list) and isinstance(part, int):
        return _candidates(get_args(tp)[0])
    if origin is dict and isinstance(part, str):
        return _candidates(get_args(tp)[1])
    return None


def _walk(root: type[BaseModel], loc: Path) -> list[Any]:
    current: list[Any] = [root]
    for part in loc:
        nxt = [c for tp in current for c in (_step(tp, part) or [])]
        if nxt:
            current = nxt
        # else: a union tag or an unknown key; stay where we are
    return current


def model_at(root: type[BaseModel], loc: Path) -> type[BaseModel] | None:
    """The model class whose field set applies at ``loc``."""
    for tp in _walk(root, loc):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def describe_field(root: type[BaseModel], loc: Path) -> str:
    """First sentence of the docstring of the field at ``loc``."""
    if not loc:
        return ""
    parent = model_at(root, loc[:-1])
    name = loc[-1]
    if parent is None or not isinstance(name, str) or name not in parent.model_fields:
        return ""
    doc = parent.model_fields[name].description or ""
    return doc.split(". ")[0].strip().rstrip(".")


def is_secret_path(root: type[BaseModel], loc: Path) -> bool:
    """Whether ``loc`` is (inside) a secret field, whose value must never be shown."""
    current: list[Any] = [root]
    for part in loc:
        if any(tp is Secret for tp in current):
            return True
        nxt = [c for tp in current for c in (_step(tp, part) or [])]
        if nxt:
            current = nxt
    return any(tp is Secret for tp in current)
