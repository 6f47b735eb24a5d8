// #/payments/{id}: one payment — where the e-mail about a payment waiting for the bank's confirmation
// (3-D Secure, off-session or abandoned) leads: Stripe.js completes it with the payment's client_secret
// (confirmCardPayment), then the page polls billow until the payment is applied or failed.

import { acct, get } from "../api.js";
import { h } from "../dom.js";
import { date, money, t } from "../i18n.js";
import { stripe } from "../payments-js.js";
import { busy, pageTitle, resultArea } from "../ui.js";
import { settle, showOutcome } from "./pay.js";

function facts(p) {
  const item = (label, value, id) => h("div", { class: "stat" }, h("dt", {}, label), h("dd", { id }, value));
  return h(
    "dl",
    { class: "stats" },
    item(t("invoice.amount"), money(p.amount, p.currency)),
    item(t("invoices.date"), date(p.created_at)),
    item(t("pay.method"), p.card && p.card.last4 ? t("payment.card", { brand: p.card.brand || "", last4: p.card.last4 }) : p.method),
    item(t("invoices.status"), t(`payment.status.${p.status}`), "payment-status"),
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  const path = acct(`/payments/${encodeURIComponent(id)}`);
  const payment = await get(path);
  const { main, config } = ctx;
  const result = resultArea();
  main.append(pageTitle(t("payment.title")), facts(payment));
  if (payment.status === "requires_action" && payment.client_secret) {
    const confirm = h("button", { type: "button", id: "payment-confirm" }, t("payment.confirm"));
    main.append(h("p", {}, t("pay.authenticating")), h("p", { class: "actions" }, confirm));
    confirm.addEventListener("click", async () => {
      busy(confirm, true);
      try {
        const stripeJs = await stripe(config);
        await stripeJs.confirmCardPayment(payment.client_secret);
        const done = await settle(payment.id, ctx.signal);
        await showOutcome(ctx, result, done, ctx.summary.balance.current, null);
      } catch (error) {
        result.error(error);
      } finally {
        busy(confirm, false);
      }
    });
  } else if (payment.status === "failed") {
    const reason = (payment.failure && (payment.failure.message || payment.failure.code)) || payment.status;
    result.error(t("pay.failed", { reason }));
  }
  main.append(result.el, h("p", {}, h("a", { href: "#/overview" }, t("pay.back"))));
  return null;
}
