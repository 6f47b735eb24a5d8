// #/invoices: the invoice list with the filters GET …/invoices offers (type, status, from, to), cursor
// paging, and the same list as CSV (GET …/invoices.csv with the same filters).

import { acct, get } from "../api.js";
import { clear, downloadBlob, field, h, select, table } from "../dom.js";
import { date, money, t } from "../i18n.js";
import { busy, pageTitle, pager, resultArea } from "../ui.js";
import { summaryFacts } from "./overview.js";

export const TYPES = ["new", "recurring", "one_time", "credit", "refund"];

function filtersFrom(query) {
  return {
    type: query.get("type") || "",
    status: query.get("status") || "",
    from: query.get("from") || "",
    to: query.get("to") || "",
  };
}

function row(invoice) {
  const flags = [invoice.past_due ? t("invoices.pastDue") : null, invoice.carried_forward ? t("invoices.carried") : null].filter(Boolean);
  return h(
    "tr",
    { dataset: { invoiceId: invoice.id } },
    h("th", { scope: "row" }, h("a", { href: `#/invoices/${invoice.id}`, "aria-label": t("invoices.open", { number: invoice.number }) }, invoice.number)),
    h("td", {}, date(invoice.date)),
    h("td", {}, t(`invoice.type.${invoice.type}`)),
    h("td", {}, t(`invoice.status.${invoice.status}`), flags.length ? h("span", { class: "tag" }, ` ${flags.join(", ")}`) : null),
    h("td", { class: "num" }, money(invoice.total, invoice.currency)),
    h("td", { class: "num", dataset: { minor: String(invoice.balance_due) } }, money(invoice.balance_due, invoice.currency)),
    h("td", {}, invoice.due_date ? date(invoice.due_date) : "—"),
  );
}

export async function render(ctx) {
  const { main } = ctx;
  const filters = filtersFrom(ctx.query);
  const result = resultArea();
  const type = select("type", [["", t("common.all")], ...TYPES.map((x) => [x, t(`invoice.type.${x}`)])], filters.type);
  const status = select(
    "status",
    [
      ["", t("common.all")],
      ["open", t("invoice.status.open")],
      ["closed", t("invoice.status.closed")],
    ],
    filters.status,
  );
  const from = h("input", { type: "date", name: "from", value: filters.from });
  const to = h("input", { type: "date", name: "to", value: filters.to });
  const form = h(
    "form",
    { class: "filters", "aria-label": t("invoices.filters") },
    field(t("invoices.type"), type),
    field(t("invoices.status"), status),
    field(t("invoices.from"), from),
    field(t("invoices.to"), to),
    h("button", { type: "submit" }, t("common.apply")),
  );
  const listArea = h("div", { id: "invoice-list" });
  const current = () => ({ type: type.value, status: status.value, from: from.value, to: to.value });

  const pages = pager(async (cursor) => {
    const page = await get(acct("/invoices"), { ...current(), cursor, limit: 20 });
    clear(
      listArea,
      page.data.length
        ? table(
            t("invoices.list"),
            [t("invoices.number"), t("invoices.date"), t("invoices.type"), t("invoices.status"), t("invoices.total"), t("invoices.balanceDue"), t("invoices.dueDate")],
            page.data.map(row),
          )
        : h("p", {}, t("common.empty")),
    );
    return page.next_cursor;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = new URLSearchParams(Object.entries(current()).filter(([, v]) => v));
    history.replaceState(null, "", `#/invoices${q.toString() ? `?${q}` : ""}`);
    try {
      await pages.reset();
      result.clear();
    } catch (error) {
      result.error(error);
    }
  });

  const csv = h("button", { type: "button", class: "secondary", id: "invoices-csv" }, t("common.downloadCsv"));
  csv.addEventListener("click", async () => {
    busy(csv, true);
    try {
      const blob = await get(acct("/invoices.csv"), current(), "blob");
      downloadBlob(blob, "invoices.csv");
      result.say(t("invoice.downloading"));
    } catch (error) {
      result.error(error);
    } finally {
      busy(csv, false);
    }
  });

  main.append(pageTitle(t("invoices.title")), h("section", { "aria-label": t("overview.title"), class: "summary" }, summaryFacts(ctx.summary, "invoices-")), form, listArea, pages.el, h("p", { class: "actions" }, csv), result.el);
  await pages.reset();
  return null;
}
