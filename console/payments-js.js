// Stripe.js, loaded from the Stripe side named in config.json (never bundled: card data must go from
// the browser to Stripe only). Deployed: https://js.stripe.com/v3/. Locally: the Stripe port serves
// localstripe's Stripe.js at /js.stripe.com/v3/ (with the calls the local Stripe side completes).
// config.json's `stripeJsUrl` names the script; without it, it derives from `stripeUrl`.

import { acct, request } from "./api.js";
import { h } from "./dom.js";
import { getLocale, t } from "./i18n.js";
import { busy, contactFieldset } from "./ui.js";

let loading = null;
let instance = null;

export function stripeJsUrl(config) {
  if (config.stripeJsUrl) return config.stripeJsUrl;
  const base = String(config.stripeUrl || "https://js.stripe.com").replace(/\/+$/, "");
  return /^https:\/\/js\.stripe\.com$/.test(base) ? `${base}/v3/` : `${base}/js.stripe.com/v3/`;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`Stripe.js could not be loaded from ${src}`));
    document.head.append(script);
  });
}

/** The page's one Stripe object (Stripe(publishableKey)). */
export async function stripe(config) {
  if (instance) return instance;
  if (!loading) {
    loading = (typeof window.Stripe === "function" ? Promise.resolve() : loadScript(stripeJsUrl(config))).then(() => {
      instance = window.Stripe(config.publishableKey, { locale: getLocale() });
      return instance;
    });
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** A card Element mounted in `container`; call `.destroy()` when the page goes away. */
export async function mountCard(config, container) {
  const s = await stripe(config);
  const card = s.elements({ locale: getLocale() }).create("card", { hidePostalCode: false });
  card.mount(container);
  return card;
}

/** A SetupIntent from billow confirmed with the card Element; returns its id or throws Stripe's error. */
export async function confirmNewCard(config, cardElement, contact) {
  const started = await request("POST", acct("/payment-method/setup"));
  const stripeJs = await stripe({ ...config, publishableKey: config.publishableKey || started.publishable_key });
  const confirmed = await stripeJs.confirmCardSetup(started.client_secret, {
    payment_method: { card: cardElement, billing_details: contact.billingDetails() },
  });
  if (confirmed.error) throw new Error(confirmed.error.message || "The card was refused.");
  return started.setup_intent_id;
}

/**
 * The card form of #/payment-method and #/upgrade, appended to the page with its result area: `head`
 * (nodes before the fields), the billing contact, Stripe's card Element, a submit button. On submit: the
 * form's validity, the button busy, `working` said, a SetupIntent from billow confirmed with the card
 * (`confirmCardSetup`: the card goes to Stripe only), then `then(setupIntentId, billingContact)` — the
 * page's own request and polling. Any error is shown in the result area. Returns the page's cleanup.
 */
export async function cardSetupForm(ctx, result, { formAttrs, head = [], billingContact = null, submitId, submitLabel, working, then }) {
  const contact = contactFieldset(billingContact);
  const cardMount = h("div", { id: "card-element", class: "card-element" });
  const submit = h("button", { type: "submit", id: submitId }, submitLabel);
  const form = h(
    "form",
    formAttrs,
    ...head,
    contact.el,
    h("div", { role: "group", "aria-label": t("pay.card"), class: "field" }, h("span", { class: "label" }, t("pay.card")), cardMount),
    submit,
  );
  ctx.main.append(form, result.el);
  const cardElement = await mountCard(ctx.config, cardMount);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    busy(submit, true);
    result.say(working);
    try {
      const setupIntentId = await confirmNewCard(ctx.config, cardElement, contact);
      await then(setupIntentId, contact.value());
    } catch (error) {
      result.error(error);
    } finally {
      busy(submit, false);
    }
  });
  return () => cardElement.destroy();
}
