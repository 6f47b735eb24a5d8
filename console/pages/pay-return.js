// #/pay/return: where PayPal sends the customer back (…#/pay/return?payment_intent=…&redirect_status=…).
// The page reloaded on the way, so the token is gone: the router signs in again first and then comes
// back here. The payment to look at was noted in sessionStorage (an id, not a secret) before leaving.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { pageTitle, resultArea } from "../ui.js";
import { PAYPAL_PENDING, settle, showOutcome } from "./pay.js";

export async function render(ctx) {
  const { main, query } = ctx;
  const result = resultArea();
  main.append(pageTitle(t("pay.returnTitle")), result.el, h("p", {}, h("a", { href: "#/overview" }, t("pay.back"))));
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(PAYPAL_PENDING) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.paymentId) {
    result.say(t("pay.returnUnknown"));
    return null;
  }
  result.say(t("pay.returnWaiting"));
  const payment = await settle(saved.paymentId, ctx.signal, query.get("redirect_status") === "failed" ? 10_000 : 60_000);
  if (ctx.signal.aborted) return null;
  sessionStorage.removeItem(PAYPAL_PENDING);
  if (payment.status === "failed") {
    result.error(t("pay.returnCancelled"));
    return null;
  }
  const before = typeof saved.before === "number" ? saved.before : ctx.summary.balance.current;
  await showOutcome(ctx, result, payment, before, null);
  return null;
}
