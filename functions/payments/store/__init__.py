"""The payments domain's store: the payments table's items (one PynamoDB model per kind, in
`models`), the frozen records the services get, and the ops the unit of work commits. Models never
leave this package.

  payments  the payment rows (PAY#) and their refunded totals
  refunds   the refund rows (REFUND#)
  events    disputes, support tickets, Stripe webhook dedupe markers
  cards     the card on file, its pending change, each card change, collection paused
  collections  the collector's row (COLLECTION): its sequence, state, attempt and dates
"""

from functions.payments.store.cards import *  # noqa: F403
from functions.payments.store.collections import *  # noqa: F403
from functions.payments.store.events import *  # noqa: F403
from functions.payments.store.models import *  # noqa: F403
from functions.payments.store.payments import *  # noqa: F403
from functions.payments.store.refunds import *  # noqa: F403
