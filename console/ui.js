// Pieces several pages share: result messages (aria-live), error text from problem+json, the
// billing-contact fieldset, a cursor pager, card labels.

import { ApiError } from "./api.js";
import { clear, field, h } from "./dom.js";
import { t } from "./i18n.js";

/** The text to show for an error: billow's `detail` (for people), with the fields at fault. */
export function errorMessage(error) {
  if (error instanceof ApiError) {
    if (error.code === "network-error") return t("error.network");
    const fields = (error.errors || []).map((e) => `${e.field} (${e.message})`).join(", ");
    return fields && error.code === "validation-failed" ? `${error.detail} — ${t("error.fields", { fields })}` : error.detail;
  }
  return (error && error.message) || t("error.generic", { code: "?" });
}

/**
 * A live region for an action's result: polite for results, assertive (role=alert) for errors.
 * Both regions exist from the start so screen readers pick up their changes.
 */
export function resultArea() {
  const polite = h("div", { class: "result", role: "status", "aria-live": "polite" });
  const alert = h("div", { class: "result-error", role: "alert", "aria-live": "assertive" });
  const el = h("div", { class: "results" }, polite, alert);
  return {
    el,
    say(...content) {
      clear(alert);
      clear(polite, h("div", {}, ...content));
    },
    error(error, ...extra) {
      clear(polite);
      clear(alert, h("p", {}, typeof error === "string" ? error : errorMessage(error)), ...extra);
    },
    clear() {
      clear(polite);
      clear(alert);
    },
  };
}

export function cardLabel(card) {
  if (!card) return t("overview.noCard");
  const brand = card.brand ? card.brand.charAt(0).toUpperCase() + card.brand.slice(1) : "Card";
  return t("card.label", {
    brand,
    last4: card.last4,
    month: String(card.exp_month).padStart(2, "0"),
    year: card.exp_year,
  });
}

const CONTACT_FIELDS = [
  ["name", "contact.name", "name", true],
  ["email", "contact.email", "email", true],
  ["line1", "contact.line1", "address-line1", true],
  ["line2", "contact.line2", "address-line2", false],
  ["city", "contact.city", "address-level2", true],
  ["state", "contact.state", "address-level1", false],
  ["postal_code", "contact.postal", "postal-code", true],
  ["country", "contact.country", "country", true],
];

/** The billing contact's fieldset, prefilled; `.value()` is the API's billing_contact. */
export function contactFieldset(prefill) {
  const p = prefill || {};
  const address = p.address || {};
  const inputs = {};
  const fields = CONTACT_FIELDS.map(([name, label, autocomplete, required]) => {
    const value = name === "name" || name === "email" ? p[name] : address[name];
    inputs[name] = h("input", {
      name: `contact-${name}`,
      type: name === "email" ? "email" : "text",
      autocomplete,
      required,
      value: value || "",
      maxlength: name === "country" ? 2 : undefined,
    });
    return field(t(label), inputs[name]);
  });
  const el = h("fieldset", { class: "contact" }, h("legend", {}, t("contact.legend")), fields);
  return {
    el,
    value() {
      const v = (name) => inputs[name].value.trim();
      const contact = {
        name: v("name"),
        email: v("email"),
        address: { line1: v("line1"), city: v("city"), postal_code: v("postal_code"), country: v("country").toUpperCase() },
      };
      if (v("line2")) contact.address.line2 = v("line2");
      if (v("state")) contact.address.state = v("state");
      return contact;
    },
    /** Stripe.js's billing_details for the same person. */
    billingDetails() {
      const c = this.value();
      return { name: c.name, email: c.email, address: { ...c.address } };
    },
  };
}

/**
 * Cursor paging: `load(cursor)` fills the page and returns next_cursor. Keeps the cursors of the
 * pages already seen so "Previous page" works (billow's cursors only go forward).
 */
export function pager(load) {
  const stack = [null];
  const prev = h("button", { type: "button", class: "secondary" }, t("common.previous"));
  const next = h("button", { type: "button", class: "secondary" }, t("common.next"));
  const el = h("nav", { class: "pager", "aria-label": t("common.pages") }, prev, next);
  let nextCursor = null;
  async function go(cursor) {
    nextCursor = await load(cursor);
    prev.disabled = stack.length <= 1;
    next.disabled = !nextCursor;
  }
  prev.addEventListener("click", async () => {
    if (stack.length > 1) stack.pop();
    await go(stack[stack.length - 1]);
  });
  next.addEventListener("click", async () => {
    if (!nextCursor) return;
    stack.push(nextCursor);
    await go(nextCursor);
  });
  return {
    el,
    reset: async () => {
      stack.splice(0, stack.length, null);
      await go(null);
    },
    reload: () => go(stack[stack.length - 1]),
  };
}

/** A page's heading, focusable so the router can move focus to it after navigation. */
export function pageTitle(text) {
  return h("h1", { tabindex: "-1", id: "page-title" }, text);
}

export function busy(button, isBusy) {
  button.disabled = isBusy;
  button.setAttribute("aria-busy", isBusy ? "true" : "false");
}
