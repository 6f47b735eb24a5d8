// #/overview: the billing summary (GET …/summary) — balance, next estimated, payment method, last and
// next recurring dates, the past-due banner.

import { h } from "../dom.js";
import { date, money, t } from "../i18n.js";
import { cardLabel, pageTitle } from "../ui.js";

function paymentMethod(pm) {
  if (!pm) return [t("overview.noCard"), " ", h("a", { href: "#/payment-method" }, t("overview.addCard"))];
  if (pm.type === "invoice") return t("overview.invoicePayment", { days: pm.net_days });
  const status = t(`card.status.${pm.status}`);
  return [`${cardLabel(pm)} (${status})`, " ", h("a", { href: "#/payment-method" }, t("overview.changeCard"))];
}

function stat(id, label, value, minor) {
  return h(
    "div",
    { class: "stat" },
    h("dt", {}, label),
    h("dd", { id, dataset: minor === undefined ? undefined : { minor: String(minor) } }, value),
  );
}

/** The billing summary the product shows on the overview and on the invoices page. */
export function summaryFacts(s, prefix = "") {
  const b = s.balance;
  const balanceText = b.current < 0 ? `${money(-b.current, s.currency)} ${t("overview.credit")}` : money(b.current, s.currency);
  return h(
    "dl",
    { class: "stats" },
    stat(`${prefix}balance-current`, t("overview.balance"), balanceText, b.current),
    stat(`${prefix}balance-next`, t("overview.nextEstimated"), money(b.next_estimated, s.currency), b.next_estimated),
    b.unapplied_credit
      ? stat(`${prefix}balance-unapplied`, t("overview.unapplied"), money(b.unapplied_credit, s.currency), b.unapplied_credit)
      : null,
    stat(`${prefix}payment-method`, t("overview.paymentMethod"), paymentMethod(s.payment_method)),
    stat(`${prefix}last-recurring`, t("overview.lastRecurring"), date(s.last_recurring_invoice_date)),
    stat(`${prefix}next-recurring`, t("overview.nextRecurring"), date(s.next_recurring_invoice_date)),
  );
}

export async function render(ctx) {
  const s = ctx.summary;
  const { main } = ctx;
  main.append(pageTitle(t("overview.title")));
  if (s.past_due) {
    main.append(
      h(
        "div",
        { class: "banner banner-danger", role: "alert", id: "past-due" },
        h("p", {}, t("overview.pastDue"), " ", h("a", { href: "#/pay" }, t("overview.payNow"))),
      ),
    );
  }
  if (s.status && s.status !== "active") {
    main.append(h("p", { class: "banner" }, t("overview.closing", { status: s.status })));
  }
  main.append(summaryFacts(s));
  main.append(
    h(
      "p",
      { class: "actions" },
      s.balance.current > 0 ? h("a", { class: "button", href: "#/pay" }, t("overview.payNow")) : null,
      h("a", { class: "button secondary", href: "#/invoices" }, t("overview.seeInvoices")),
    ),
  );
  return null;
}
