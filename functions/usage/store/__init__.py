"""The usage table (owner: usage), one module per kind of item:

    records.py   pk = REC#<service>#<record id>  sk = REC                          dedupe marker (TTL 400 days)
                 pk = <account>  sk = AGG#<period>#<service>#<metric>             a line's quantity so far
                 pk = <account>  sk = DAY#<period>#<service>#<metric>#<day>       … per UTC day
                 pk = <account>  sk = DEV#<period>#<service>#<metric>#<device|->  … per device (- none)
                 pk = <account>  sk = SEAL#<period>                               the period was invoiced
    rates.py     pk = RATECARD   sk = RATE#<service>#<metric>#<currency>#<effective_from>   the card
                 pk = <account>  sk = RATE#<service>#<metric>#<currency>#<effective_from>   negotiated
    budgets.py   pk = <account>  sk = BUDGET                                     the budget
                 pk = <account>  sk = ALERT#<period>#<percent>                    a threshold crossed
                 pk = BUDGETS#<shard>  sk = <account>                             for the daily check

Quantities are integers scaled by 10^6 (QUANTITY_SCALE), never floats; aggregates grow by ADD. Models
never leave this package: it gives records (dataclasses) and Ops."""
