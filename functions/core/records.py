"""One converter between a store's frozen records (dataclasses) and its PynamoDB items, for the fields
a record keeps under the same name as the item's attribute: a record is read from an item field by
field, an item written from a record attribute by attribute. What a store keeps otherwise (under
another name, as JSON, its keys, a default of its own) it gives by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from functools import cache
from typing import Any, TypeVar, get_type_hints

from pynamodb.models import Model

R = TypeVar("R")
M = TypeVar("M", bound=Model)

# What a missing attribute reads as for a record's field without a default of its own.
_EMPTY: dict[Any, Callable[[], Any]] = {str: str, int: int}


@cache
def _defaults(record_type: type) -> dict[str, Callable[[], Any] | None]:
    """Each field's default (a factory), or None for a required field of no known empty value."""
    hints = get_type_hints(record_type)
    defaults: dict[str, Callable[[], Any] | None] = {}
    for f in fields(record_type):
        if f.default is not MISSING:
            defaults[f.name] = lambda value=f.default: value
        elif f.default_factory is not MISSING:
            defaults[f.name] = f.default_factory
        else:
            defaults[f.name] = _EMPTY.get(hints[f.name])
    return defaults


def record_of(record_type: type[R], item: Model, prefix: str = "", /, **given: Any) -> R:
    """The record of a stored item: each field not `given` is the item's attribute of the same name (after
    `prefix`, for a record kept among other attributes of the item); a missing attribute reads as the
    field's default ("" or 0 for a required text or whole-number field)."""
    values = dict(given)
    for name, default in _defaults(record_type).items():
        if name in values:
            continue
        value = getattr(item, prefix + name)
        if value is None:
            if default is None:
                raise TypeError(f"{record_type.__name__}.{name}: missing on the item and given no value")
            value = default()
        values[name] = value
    return record_type(**values)


def item_of(model_type: type[M], record: Any, hash_key: str, range_key: str, **given: Any) -> M:
    """The item of a record at these keys: each of the model's attributes not `given` is the record's
    field of the same name (an attribute the record has no field for is left unset)."""
    names = {f.name for f in fields(record)}
    same = {n: getattr(record, n) for n in model_type.get_attributes() if n in names and n not in given}
    return model_type(hash_key, range_key, **same, **given)
