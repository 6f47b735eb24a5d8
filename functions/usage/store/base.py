"""The usage table's base model (every kind of item in it shares pk and sk)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import meta

# The partition of the rate card (the operators' catalogue; an account's own rates sit in its partition).
CARD = "RATECARD"
# Budgets are listed, for the daily check, in one partition per shard: BUDGETS#<shard> -> <account>.
BUDGET_LIST = "BUDGETS#"


class UsageItem(Model):
    Meta = meta("usage")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
