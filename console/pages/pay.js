// #/pay (?invoice=inv_…): a one-time payment of the whole balance or part of it, by the card on file,
// another card (Stripe.js card Element → createPaymentMethod → payment_method_id) or PayPal (redirect to
// the approval URL; #/pay/return completes). 3-D Secure: confirmCardPayment only on requires_action.
// One Idempotency-Key per "Pay" action, reused when that same payment is sent again.

import { Action, acct, get, poll, request } from "../api.js";
import { field, h, nextId } from "../dom.js";
import { amountInput, money, parseAmount, t } from "../i18n.js";
import { mountCard, stripe } from "../payments-js.js";
import { busy, cardLabel, pageTitle, resultArea } from "../ui.js";

export const PAYPAL_PENDING = "billow.paypal"; // sessionStorage: the PayPal payment to look at on return
const FINAL = new Set(["succeeded", "failed", "held"]);

function radio(name, value, label, checked) {
  const id = nextId(name);
  return h(
    "div",
    { class: "choice" },
    h("input", { type: "radio", name, value, id, checked }),
    h("label", { for: id }, label),
  );
}

function supportLink(paymentId) {
  const q = paymentId ? `?payment=${encodeURIComponent(paymentId)}` : "";
  return h("p", {}, h("a", { href: `#/support${q}` }, t("pay.support")));
}

/** Poll the summary until its balance moves away from `before` (the webhook may apply a moment later). */
async function newBalance(ctx, before, signal) {
  return poll(
    () => ctx.loadSummary(),
    (s) => s.balance.current !== before,
    { every: 500, timeout: 8000, signal },
  );
}

/** Wait for a payment to reach a final state; the payment as last read. */
export function settle(paymentId, signal, timeout = 30_000) {
  return poll(
    () => get(acct(`/payments/${encodeURIComponent(paymentId)}`)),
    (p) => FINAL.has(p.status),
    { every: 700, timeout, signal },
  );
}

export async function showOutcome(ctx, result, payment, before, balanceEl) {
  if (payment.status === "succeeded") {
    const s = await newBalance(ctx, before, ctx.signal);
    ctx.summary = s;
    if (balanceEl) {
      balanceEl.textContent = money(s.balance.current, s.currency);
      balanceEl.dataset.minor = String(s.balance.current);
    }
    result.say(
      h("span", { id: "payment-result", dataset: { paymentId: payment.id, status: payment.status } }, t("pay.succeeded", {
        amount: money(payment.amount, payment.currency),
        balance: money(s.balance.current, s.currency),
      })),
    );
  } else if (payment.status === "failed" || payment.status === "held") {
    const reason = (payment.failure && (payment.failure.message || payment.failure.code)) || payment.status;
    result.error(t("pay.failed", { reason }), supportLink(payment.id));
  } else {
    result.say(h("span", { id: "payment-result", dataset: { paymentId: payment.id, status: payment.status } }, t("pay.processing", { amount: money(payment.amount, payment.currency) })));
  }
}

async function loadTarget(ctx) {
  const invoiceId = ctx.query.get("invoice");
  if (!invoiceId) return null;
  return get(acct(`/invoices/${encodeURIComponent(invoiceId)}`));
}

export async function render(ctx) {
  const { main, config } = ctx;
  const s = ctx.summary;
  const invoice = await loadTarget(ctx);
  const max = invoice ? invoice.balance_due : s.balance.current;
  const balanceEl = h("dd", { id: "pay-balance", dataset: { minor: String(s.balance.current) } }, money(s.balance.current, s.currency));
  main.append(
    pageTitle(t("pay.title")),
    h("p", {}, t("pay.intro")),
    h("dl", { class: "stats" }, h("div", { class: "stat" }, h("dt", {}, t("pay.balance")), balanceEl)),
  );
  if (invoice) main.append(h("p", { id: "pay-target" }, t("pay.forInvoice", { number: invoice.number, amount: money(invoice.balance_due, invoice.currency) })));
  const result = resultArea();
  if (max <= 0) {
    main.append(h("p", { role: "status" }, t("pay.nothingDue", { balance: money(s.balance.current, s.currency) })));
    return null;
  }
  // the card on file (an account paying by invoice may have one too: the summary then shows net days)
  const onFile = s.capabilities.payment_method ? (await get(acct("/payment-method"))).card : null;
  const card = onFile && onFile.status === "active" ? onFile : null;
  const amount = h("input", { name: "amount", type: "text", inputmode: "decimal", autocomplete: "off", required: true, value: amountInput(max, s.currency) });
  const amountChoice = h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, t("pay.amountChoice")),
    radio("amount-choice", "full", t("pay.full", { amount: money(max, s.currency) }), true),
    radio("amount-choice", "other", t("pay.other"), false),
    field(t("pay.amount", { currency: s.currency.toUpperCase() }), amount, t("pay.amountHint", { example: amountInput(1250, s.currency) })),
  );
  const methods = [
    card ? ["card-on-file", t("pay.cardOnFile", { card: cardLabel(card) })] : null,
    ["new-card", t("pay.newCard")],
    ["paypal", t("pay.paypal")],
  ].filter(Boolean);
  const methodChoice = h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, t("pay.method")),
    methods.map(([value, label], i) => radio("method", value, label, i === 0)),
  );
  const holder = h("input", { name: "cardholder", type: "text", autocomplete: "cc-name" });
  const cardMount = h("div", { id: "card-element", class: "card-element" });
  const newCard = h(
    "div",
    { class: "new-card", hidden: methods[0][0] !== "new-card" },
    field(t("pay.cardholder"), holder),
    h("div", { role: "group", "aria-label": t("pay.card"), class: "field" }, h("span", { class: "label" }, t("pay.card")), cardMount),
  );
  const submit = h("button", { type: "submit", id: "pay-submit" }, t("pay.submitCard"));
  const form = h("form", { id: "pay-form", novalidate: true }, amountChoice, methodChoice, newCard, submit);
  main.append(form, result.el);

  let cardElement = null;
  const method = () => form.querySelector('input[name="method"]:checked').value;
  async function methodChanged() {
    const m = method();
    newCard.hidden = m !== "new-card";
    submit.textContent = m === "paypal" ? t("pay.submitPaypal") : t("pay.submitCard");
    if (m === "new-card" && !cardElement) cardElement = await mountCard(config, cardMount);
  }
  methodChoice.addEventListener("change", methodChanged);
  amount.addEventListener("input", () => {
    form.querySelector('input[value="other"]').checked = true;
  });
  amountChoice.addEventListener("change", (event) => {
    if (event.target.value === "full") amount.value = amountInput(max, s.currency);
  });
  await methodChanged();

  const action = new Action();
  let pending = null; // the body of an action that may be sent again (same key)
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const minor = parseAmount(amount.value, s.currency);
    if (minor === null || minor <= 0 || minor > max) {
      result.error(t("pay.amountInvalid", { max: money(max, s.currency) }));
      amount.focus();
      return;
    }
    busy(submit, true);
    result.say(t("pay.working"));
    try {
      await pay(minor);
    } finally {
      busy(submit, false);
    }
  });

  async function buildBody(minor, m) {
    if (pending && action.key && pending.amount === minor && pending.method === m) return pending.body;
    const body = { amount: minor, currency: s.currency, method: m === "paypal" ? "paypal" : "card" };
    if (invoice) body.invoice_id = invoice.id;
    if (m === "paypal") body.return_url = `${location.origin}${location.pathname}#/pay/return`;
    if (m === "new-card") {
      const stripeJs = await stripe(config);
      const made = await stripeJs.createPaymentMethod({ type: "card", card: cardElement, billing_details: { name: holder.value.trim() || undefined } });
      if (made.error) throw Object.assign(new Error(made.error.message || "card error"), { stripe: true });
      body.payment_method_id = made.paymentMethod.id;
    }
    pending = { amount: minor, method: m, body };
    return body;
  }

  async function pay(minor) {
    const m = method();
    const before = ctx.summary.balance.current;
    let payment;
    try {
      const body = await buildBody(minor, m);
      payment = await request("POST", acct("/payments"), { body, key: action.keyFor(body) });
      action.settle();
    } catch (error) {
      action.settle(error);
      if (!action.key) pending = null;
      const paymentId = error.problem && error.problem.payment_id;
      result.error(error, error.code === "card-declined" || error.code === "payment-rejected" ? supportLink(paymentId) : null);
      return;
    }
    pending = null;
    const next = payment.next_action || {};
    const redirect = next.type === "redirect_to_url" ? next.url || (next.redirect_to_url && next.redirect_to_url.url) : null;
    if (m === "paypal" && redirect) {
      sessionStorage.setItem(PAYPAL_PENDING, JSON.stringify({ paymentId: payment.id, before }));
      result.say(t("pay.redirecting"));
      location.assign(redirect);
      return;
    }
    if (payment.status === "requires_action" && payment.client_secret) {
      result.say(t("pay.authenticating"));
      const stripeJs = await stripe(config);
      await stripeJs.confirmCardPayment(payment.client_secret);
    }
    if (!FINAL.has(payment.status)) payment = await settle(payment.id, ctx.signal);
    await showOutcome(ctx, result, payment, before, balanceEl);
  }

  return () => {
    if (cardElement) cardElement.destroy();
  };
}
