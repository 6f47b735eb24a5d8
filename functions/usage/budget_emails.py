"""The budget alert e-mail (en/fr), built on functions/core/email.py `compose`."""

from __future__ import annotations

from datetime import date

from functions.accounts.service import AccountRecord
from functions.core.clock import display_day
from functions.core.email import Email, compose
from functions.core.links import usage_page
from functions.core.money import display

TEXT = {
    "en": {
        "subject": "Your usage has reached {percent} % of your budget",
        "hello": "Hello {name},",
        "body": "The account {account} is estimated at {estimate} for the billing period that started on {start}: "
        "{percent} % of its monthly budget of {budget}.",
        "estimate": "The estimate is this period's recurring fees plus the usage so far, priced as it will be "
        "invoiced. See it by service, metric, device or day in the console: {link}",
        "footer": "You get one e-mail per threshold and period. Change the budget or its thresholds in the console.",
    },
    "fr": {
        "subject": "Votre consommation atteint {percent} % de votre budget",
        "hello": "Bonjour {name},",
        "body": "Le compte {account} est estimé à {estimate} pour la période de facturation commencée le {start} : "
        "{percent} % de son budget mensuel de {budget}.",
        "estimate": "L'estimation comprend les frais récurrents de la période et la consommation à ce jour, au prix "
        "auquel elle sera facturée. Détail par service, métrique, équipement ou jour dans la console : {link}",
        "footer": "Vous recevez un e-mail par seuil et par période. Modifiez le budget ou ses seuils dans la console.",
    },
}


def alert_email(account: AccountRecord, budget: int, percent: int, estimate: int, start: date) -> Email:
    locale = account.locale if account.locale in TEXT else "en"
    t = TEXT[locale]
    values = {
        "name": account.billing_contact.get("name", ""),
        "account": account.name,
        "percent": percent,
        "estimate": display(estimate, account.currency, locale),
        "budget": display(budget, account.currency, locale),
        "start": display_day(start, locale),
        "link": usage_page(account.id),
    }
    paragraphs = [t["hello"], t["body"], t["estimate"]]
    return compose(
        account.billing_contact["email"],
        t["subject"].format(**values),
        locale,
        [p.format(**values) for p in paragraphs],
        footer=[t["footer"]],
    )
