// #/support: open a ticket (POST …/support-tickets; ?invoice= or ?payment= prefill the reference, as the
// card-declined answer's support link does) and list the account's tickets (GET …/support-tickets).

import { acct, get, request } from "../api.js";
import { clear, field, h, table } from "../dom.js";
import { date, t } from "../i18n.js";
import { busy, pageTitle, pager, resultArea } from "../ui.js";

export async function render(ctx) {
  const { main, query } = ctx;
  const subject = h("input", { name: "subject", type: "text", required: true, maxlength: 200 });
  const message = h("textarea", { name: "message", rows: 5, required: true, maxlength: 5000 });
  const invoice = h("input", { name: "invoice_id", type: "text", maxlength: 64, value: query.get("invoice") || "" });
  const payment = h("input", { name: "payment_id", type: "text", maxlength: 64, value: query.get("payment") || "" });
  const submit = h("button", { type: "submit", id: "ticket-submit" }, t("support.submit"));
  const result = resultArea();
  const form = h(
    "form",
    { id: "ticket-form", "aria-labelledby": "ticket-form-title" },
    h("h2", { id: "ticket-form-title" }, t("support.new")),
    field(t("support.subject"), subject),
    field(t("support.message"), message),
    field(t("support.invoice"), invoice),
    field(t("support.payment"), payment),
    submit,
  );
  const listArea = h("div", { id: "ticket-list" });
  const pages = pager(async (cursor) => {
    const page = await get(acct("/support-tickets"), { cursor, limit: 20 });
    clear(
      listArea,
      page.data.length
        ? table(
            t("support.list"),
            [t("support.subject"), t("support.created"), t("support.status")],
            page.data.map((x) => h("tr", { dataset: { ticketId: x.id } }, h("th", { scope: "row" }, x.subject), h("td", {}, date(x.created_at)), h("td", {}, x.status))),
          )
        : h("p", {}, t("common.empty")),
    );
    return page.next_cursor;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = { subject: subject.value.trim(), message: message.value.trim() };
    if (invoice.value.trim()) body.invoice_id = invoice.value.trim();
    if (payment.value.trim()) body.payment_id = payment.value.trim();
    busy(submit, true);
    try {
      const out = await request("POST", acct("/support-tickets"), { body });
      result.say(h("span", { id: "ticket-result", dataset: { ticketId: out.ticket_id } }, t("support.opened", { id: out.ticket_id })));
      form.reset();
      await pages.reset();
    } catch (error) {
      result.error(error);
    } finally {
      busy(submit, false);
    }
  });
  main.append(pageTitle(t("support.title")), form, result.el, h("h2", {}, t("support.list")), listArea, pages.el);
  await pages.reset();
  return null;
}
