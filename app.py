"""billow: the Chalice application. Builds the app and registers one Blueprint per domain; nothing else."""

from chalice import Chalice

from functions.accounts.routes import bp as accounts
from functions.billing_items.routes import bp as billing_items
from functions.billing_run.routes import bp as billing_run
from functions.core.routes import bp as platform
from functions.events.event_routes import bp as events
from functions.events.routes import bp as webhooks
from functions.invoices.routes import bp as invoices
from functions.payments.routes import bp as payments
from functions.usage.rate_routes import bp as rates
from functions.usage.routes import bp as usage

app = Chalice(app_name="billow", configure_logs=False)  # Powertools owns the "billow" logger
app.register_blueprint(platform)
app.register_blueprint(accounts)
app.register_blueprint(payments)
app.register_blueprint(billing_items)
app.register_blueprint(usage)
app.register_blueprint(rates)
app.register_blueprint(invoices)
app.register_blueprint(billing_run)
app.register_blueprint(events)
app.register_blueprint(webhooks)
