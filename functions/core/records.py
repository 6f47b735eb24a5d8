"""Records (a store's frozen dataclasses) and their PynamoDB items, by field name — the one place for
that rule, used two ways:

- a model that stores ONE record declares its attributes from it (`stored_attributes`: the record's
  fields are written once, on the record; dates kept as ISO text) and converts with the mixin's
  `values_of(record)` / `item.record_values()` — the ledger's balance, entries, invoices and lines,
  the billing items;
- a table whose items hold several kinds of record, or a record among other attributes under a
  prefix (the payments table: payments, refunds, the card on file and its pending change), reads and
  writes each with `record_of` / `item_of`, field by field.

What a store keeps otherwise (under another name, as JSON, its keys, a default of its own) it gives by
name."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import MISSING, fields
from datetime import date
from functools import cache
from typing import Any, TypeVar, get_args, get_type_hints

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import IntegerAttribute

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


def fields_of(record_type: type, *leave_out: str) -> tuple[str, ...]:
    """The names of a dataclass's fields, but `leave_out` (those stored under another name or form)."""
    return tuple(f.name for f in fields(record_type) if f.name not in leave_out)


def read_values(model: Any, names: Iterable[str], dates: Collection[str] = ()) -> dict[str, Any]:
    """The attributes `names` of an item read, by name: those in `dates` parsed from ISO strings (none: None)."""
    values = {name: getattr(model, name) for name in names}
    return {name: (date.fromisoformat(v) if v else None) if name in dates else v for name, v in values.items()}


def stored_values(record: Any, names: Iterable[str], dates: Collection[str] = ()) -> dict[str, Any]:
    """The fields `names` of a record as its item stores them, by name: those in `dates` as ISO strings (none: None)."""
    values = {name: getattr(record, name) for name in names}
    return {name: (v.isoformat() if v else None) if name in dates else v for name, v in values.items()}


def stored_attributes(record_type: type, *leave_out: str) -> type:
    """A mixin declaring, for a model, the attributes that store a record's fields by name (all but
    `leave_out`): an int as IntegerAttribute (its default kept), a str or a date (ISO) as UnicodeAttribute;
    nullable where the field is optional. `Model.values_of(record)` gives them to a new item,
    `item.record_values()` back to a record (dates parsed)."""
    hints = get_type_hints(record_type)
    defaults = {f.name: f.default for f in fields(record_type) if f.default is not MISSING}
    names = fields_of(record_type, *leave_out)
    attributes: dict[str, Any] = {}
    dates = set()
    for name in names:
        kinds = get_args(hints[name]) or (hints[name],)
        attribute = IntegerAttribute if int in kinds else UnicodeAttribute
        attributes[name] = attribute(null=type(None) in kinds, default=defaults.get(name))
        dates |= {name} if date in kinds else set()
    attributes["values_of"] = classmethod(lambda cls, record: stored_values(record, names, dates))
    attributes["record_values"] = lambda self: read_values(self, names, dates)
    return type(f"{record_type.__name__}Attributes", (), attributes)
