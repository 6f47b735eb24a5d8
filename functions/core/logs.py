"""Structured JSON logs (Powertools Logger). Nothing secret is ever passed in: no raw event, headers,
tokens, bodies, billing contacts or card data. Callers log ids, routes, statuses and counts only."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from functions.core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    """The process's logger, built on first use (Powertools is not imported at cold start)."""
    from aws_lambda_powertools import Logger

    return Logger(service="billow", level=get_settings().log_level)
