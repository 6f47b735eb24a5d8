// #/payment-method: the card on file, a pending change, the last failed one; a change is a SetupIntent
// from POST …/payment-method/setup confirmed with stripe.confirmCardSetup (the card goes to Stripe
// only), then PUT …/payment-method; billow validates it (pending_validation → active | failed), polled.

import { acct, get, poll, request } from "../api.js";
import { clear, h } from "../dom.js";
import { date, t } from "../i18n.js";
import { cardSetupForm } from "../payments-js.js";
import { cardLabel, pageTitle, resultArea } from "../ui.js";

function describe(pm) {
  const parts = [];
  if (pm.card) {
    parts.push(
      h("p", { id: "card-on-file" }, cardLabel(pm.card), " — ", h("span", { class: "status", dataset: { status: pm.card.status } }, t("pm.status", { status: t(`pm.status.${pm.card.status}`) }))),
    );
    if (pm.card.billing_contact) {
      parts.push(h("p", {}, `${t("pm.holder")}: ${pm.card.billing_contact.name} <${pm.card.billing_contact.email}>`));
    }
  } else {
    parts.push(h("p", { id: "card-on-file" }, t("pm.none")));
  }
  if (pm.pending_change) {
    parts.push(h("p", { class: "banner", id: "card-pending", dataset: { status: "pending_validation" } }, t("pm.pending", { card: cardLabel(pm.pending_change) })));
  }
  if (pm.last_failed_change) {
    const f = pm.last_failed_change;
    parts.push(
      h("p", { class: "banner banner-danger", id: "card-failed", dataset: { status: "failed", code: f.code } }, t("pm.failed", { card: cardLabel(f), message: `${f.message} (${date(f.failed_at)})` })),
    );
  }
  return parts;
}

/** Poll GET payment-method until the change made with `setupIntentId` is active or failed. */
export async function waitForCard(setupIntentId, signal) {
  return poll(
    () => get(acct("/payment-method")),
    (pm) =>
      !(pm.pending_change && pm.pending_change.setup_intent_id === setupIntentId) ||
      Boolean(pm.last_failed_change && pm.last_failed_change.setup_intent_id === setupIntentId),
    { every: 700, timeout: 45_000, signal },
  );
}

export async function render(ctx) {
  const { main } = ctx;
  const s = ctx.summary;
  let pm = await get(acct("/payment-method"));
  const current = h("section", { id: "current-card", "aria-labelledby": "current-card-title" });
  const showCurrent = () => clear(current, h("h2", { id: "current-card-title" }, t("pm.current")), describe(pm));
  showCurrent();
  main.append(pageTitle(t("pm.title")));
  if (s.payment_method && s.payment_method.type === "invoice") main.append(h("p", {}, t("pm.sendInvoice", { days: s.payment_method.net_days })));
  main.append(current);

  const result = resultArea();
  return cardSetupForm(ctx, result, {
    formAttrs: { id: "card-form", "aria-labelledby": "card-form-title" },
    head: [h("h2", { id: "card-form-title" }, pm.card ? t("pm.change") : t("pm.add")), h("p", {}, t("pm.intro"))],
    billingContact: pm.card && pm.card.billing_contact,
    submitId: "card-submit",
    submitLabel: t("pm.submit"),
    working: t("pm.working"),
    then: async (setupIntentId, billingContact) => {
      await request("PUT", acct("/payment-method"), { body: { setup_intent_id: setupIntentId, billing_contact: billingContact } });
      pm = { ...pm, pending_change: { ...(pm.pending_change || {}), setup_intent_id: setupIntentId } };
      result.say(h("span", { dataset: { status: "pending_validation" } }, t("pm.status", { status: t("pm.status.pending_validation") })));
      pm = await waitForCard(setupIntentId, ctx.signal);
      showCurrent();
      const failed = pm.last_failed_change && pm.last_failed_change.setup_intent_id === setupIntentId;
      if (failed) result.error(t("pm.failed", { card: cardLabel(pm.last_failed_change), message: pm.last_failed_change.message }));
      else if (pm.pending_change) result.say(t("pm.stillPending"));
      else result.say(h("span", { id: "card-result", dataset: { status: "active" } }, t("pm.done", { card: cardLabel(pm.card) })));
    },
  });
}
