// Stripe.js, loaded from the Stripe side named in config.json (never bundled: card data must go from
// the browser to Stripe only). Deployed: https://js.stripe.com/v3/. Locally: the Stripe port serves
// localstripe's Stripe.js at /js.stripe.com/v3/ (with the calls the local Stripe side completes).
// config.json's `stripeJsUrl` names the script; without it, it derives from `stripeUrl`.

import { getLocale } from "./i18n.js";

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
