"""The console for other people, each on a page of its own: the Lite account (its upgrade path, no billing
options), an account whose locale is French, the sign-in page."""

from __future__ import annotations

from tests.browser.console_helpers import Customer, digits, fill_card, serious_violations, wait_until
from tests.browser.harness import screenshot, sign_in


def test_a_lite_account_sees_no_billing_options_only_its_upgrade(page, console_site):
    lite = Customer.of(console_site, "lite")
    assert lite.get("/summary")["type"] == "lite"
    sign_in(page, console_site, "lite")
    page.wait_for_selector("#upgrade-form")
    nav = page.get_by_role("navigation", name="Billing")
    assert nav.get_by_role("link").all_inner_texts() == ["Upgrade", "Support"]
    for route in ("overview", "pay", "invoices", "items", "payment-method", "usage"):
        page.goto(f"{console_site.url}/#/{route}")
        page.wait_for_url("**/#/upgrade")
        page.wait_for_selector("#upgrade-form")
    assert page.get_by_text("Make a payment").count() == 0
    assert serious_violations(page) == []
    screenshot(page, "upgrade")

    contact = page.get_by_role("group", name="Billing address")
    contact.get_by_label("Full name").fill("Alan Turing")
    contact.get_by_label("E-mail").fill("alan@lite.example")
    contact.get_by_label("Address", exact=True).fill("2 Bletchley Park")
    contact.get_by_label("City").fill("Milton Keynes")
    contact.get_by_label("Postal code").fill("MK3 6EB")
    contact.get_by_label("Country (2 letters)").fill("GB")
    fill_card(page, "4242424242424242", postal="MK3 6EB")
    page.get_by_role("button", name="Upgrade").click()
    result = page.locator("#upgrade-result")
    result.wait_for(timeout=30_000)
    assert result.get_attribute("data-status") == "completed"
    assert wait_until(lambda: lite.get("/summary")["type"] == "payg")


def test_an_account_whose_locale_is_french_reads_french_labels_and_amounts(page, console_site):
    customer = Customer.of(console_site)
    customer.call("PATCH", "", {"locale": "fr"})
    try:
        summary = customer.get("/summary")
        sign_in(page, console_site)
        balance = page.locator("#balance-current")
        balance.wait_for()
        assert page.get_by_role("heading", level=1).inner_text() == "Récapitulatif"
        assert page.get_by_text("Solde en cours").is_visible()
        nav = page.get_by_role("navigation", name="Facturation")
        assert nav.get_by_role("link").first.inner_text() == "Récapitulatif"
        amount = balance.inner_text()
        assert amount.endswith("$US") and "," in amount  # 1 234,56 $US
        assert digits(amount) == summary["balance"]["current"]
        screenshot(page, "overview-fr")
        page.goto(f"{console_site.url}/#/pay")
        page.get_by_role("button", name="Effectuer un règlement par carte de crédit").wait_for()
        assert page.get_by_label("Montant du règlement (USD)").input_value().count(",") == 1
        assert page.locator("html").get_attribute("lang") == "fr"
        # and the person may switch: English from the header
        page.get_by_label("Langue").select_option("en")
        page.get_by_role("button", name="Pay by card").wait_for()
    finally:
        customer.call("PATCH", "", {"locale": "en"})


def test_the_sign_in_page_passes_axe_refuses_a_bad_token_and_signs_in_with_a_good_one(page, console_site, page_watch):
    page_watch.expect_status(401)  # the bad token, on purpose
    page.goto(f"{console_site.url}/#/signin")
    page.wait_for_selector("#signin-form")
    assert serious_violations(page) == []
    screenshot(page, "signin")
    user = console_site.user("customer")
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_label("Account id").fill(user["account"])
    page.get_by_role("button", name="Sign in").click()
    assert "Sign-in failed" in page.get_by_role("alert").filter(has_text="Sign-in failed").inner_text()
    assert page.url.endswith("#/signin")
    page.get_by_label("Access token").fill(user["token"])
    page.get_by_label("Account id").fill(user["account"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#balance-current")
    assert page.url.endswith("#/overview")
