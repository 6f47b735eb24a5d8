// #/upgrade: a Lite account's only billing page — its upgrade path (DESIGN §2 v4): a SetupIntent from
// POST …/payment-method/setup confirmed with Stripe.js, then POST …/upgrade {setup_intent_id,
// billing_contact} → 202 pending_validation; the summary is polled until the account is payg or the
// upgrade failed.

import { acct, poll, request } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { cardSetupForm } from "../payments-js.js";
import { pageTitle, resultArea } from "../ui.js";

export async function render(ctx) {
  const { main } = ctx;
  const s = ctx.summary;
  const result = resultArea();
  main.append(pageTitle(t("upgrade.title")), h("p", {}, t("upgrade.intro")), h("p", { class: "hint" }, t("upgrade.noBilling")));
  if (s.upgrade && s.upgrade.status === "pending_validation") main.append(h("p", { class: "banner", id: "upgrade-status" }, t("upgrade.pending")));
  if (s.upgrade && s.upgrade.status === "failed") main.append(h("p", { class: "banner banner-danger", id: "upgrade-status" }, t("upgrade.failed", { code: s.upgrade.failure_code || "?" })));
  return cardSetupForm(ctx, result, {
    formAttrs: { id: "upgrade-form" },
    submitId: "upgrade-submit",
    submitLabel: t("upgrade.submit"),
    working: t("upgrade.working"),
    then: async (setupIntentId, billingContact) => {
      await request("POST", acct("/upgrade"), { body: { setup_intent_id: setupIntentId, billing_contact: billingContact } });
      result.say(t("upgrade.pending"));
      const after = await poll(
        () => ctx.loadSummary(),
        (x) => x.type !== "lite" || (x.upgrade && x.upgrade.setup_intent_id === setupIntentId && x.upgrade.status === "failed"),
        { every: 800, timeout: 45_000, signal: ctx.signal },
      );
      if (after.type !== "lite") {
        result.say(h("span", { id: "upgrade-result", dataset: { status: "completed" } }, t("upgrade.completed")), " ", h("a", { href: "#/overview" }, t("nav.overview")));
      } else if (after.upgrade && after.upgrade.status === "failed") {
        result.error(t("upgrade.failed", { code: after.upgrade.failure_code || "?" }));
      } else {
        result.say(t("upgrade.pending"));
      }
    },
  });
}
