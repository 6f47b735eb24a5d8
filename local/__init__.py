"""The local stack (moto server, chalice local, Stripe side, pump) and the `billow` CLI. Never packaged."""
