"""The event types an endpoint may subscribe to: the outbox's catalogue (functions/core/outbox.py, DESIGN
§7). `"*"` means every type, today's and later ones."""

from __future__ import annotations

from functions.core.outbox import EVENT_TYPES

__all__ = ["ALL", "EVENT_TYPES", "MAX_EVENT_TYPES"]
ALL = "*"
# More entries than there are types (each at most once, or "*" alone) is refused before anything is read.
MAX_EVENT_TYPES = len(EVENT_TYPES)
