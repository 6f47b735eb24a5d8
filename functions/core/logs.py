"""Structured JSON logs (Powertools Logger). Nothing secret is ever passed in: no raw event, headers,
tokens, bodies, billing contacts or card data. Callers log ids, routes, statuses and counts only."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger

from functions.core.settings import get_settings


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    return Logger(service="billow", level=get_settings().log_level)
