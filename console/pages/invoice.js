// #/invoices/{id}: one invoice with its lines and what was applied to it; PDF (a presigned link the
// browser downloads: Content-Disposition attachment), CSV of its lines, and "pay this invoice".
// A PDF billow is still rendering (409 pdf-not-ready) is waited for: "Preparing the PDF…", then the download.

import { acct, get, pdfLink } from "../api.js";
import { downloadBlob, downloadUrl, h, table } from "../dom.js";
import { date, money, number, t, unitMoney } from "../i18n.js";
import { busy, pageTitle, resultArea } from "../ui.js";

const PAYABLE = new Set(["new", "recurring", "one_time"]);

function lineRow(line, currency) {
  const unit = line.unit_amount ? unitMoney(line.unit_amount, currency) : "—";
  return h(
    "tr",
    {},
    h("td", {}, line.description),
    h("td", {}, `${date(line.period_start)} – ${date(line.period_end)}`),
    h("td", { class: "num" }, line.quantity ? number(line.billable ?? line.quantity) : "—"),
    h("td", { class: "num" }, unit),
    h("td", { class: "num" }, money(line.amount, currency)),
  );
}

function facts(inv) {
  const item = (label, value, id) => h("div", { class: "stat" }, h("dt", {}, label), h("dd", { id }, value));
  return h(
    "dl",
    { class: "stats" },
    item(t("invoices.date"), date(inv.date)),
    item(t("invoices.type"), t(`invoice.type.${inv.type}`)),
    item(t("invoices.status"), t(`invoice.status.${inv.status}`), "invoice-status"),
    item(t("invoice.period"), `${date(inv.period_start)} – ${date(inv.period_end)}`),
    item(t("invoices.total"), money(inv.total, inv.currency), "invoice-total"),
    item(t("invoices.paid"), money(inv.amount_paid, inv.currency)),
    item(t("invoices.balanceDue"), money(inv.balance_due, inv.currency), "invoice-balance-due"),
    inv.due_date ? item(t("invoices.dueDate"), date(inv.due_date)) : null,
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  const inv = await get(acct(`/invoices/${encodeURIComponent(id)}`));
  const { main } = ctx;
  const result = resultArea();
  const pdf = h("button", { type: "button", id: "invoice-pdf" }, t("invoice.pdf"));
  pdf.addEventListener("click", async () => {
    busy(pdf, true);
    try {
      const path = acct(`/invoices/${encodeURIComponent(id)}/pdf`);
      const link = await pdfLink(path, { onWait: () => result.say(t("invoice.preparing")) });
      downloadUrl(link.url);
      result.say(t("invoice.downloading"));
    } catch (error) {
      result.error(error);
    } finally {
      busy(pdf, false);
    }
  });
  const csv = h("button", { type: "button", class: "secondary", id: "invoice-csv" }, t("invoice.csv"));
  csv.addEventListener("click", async () => {
    busy(csv, true);
    try {
      downloadBlob(await get(acct(`/invoices/${encodeURIComponent(id)}/csv`), null, "blob"), `${inv.number}.csv`);
      result.say(t("invoice.downloading"));
    } catch (error) {
      result.error(error);
    } finally {
      busy(csv, false);
    }
  });
  const payable = inv.status === "open" && inv.balance_due > 0 && PAYABLE.has(inv.type);
  main.append(
    h("p", {}, h("a", { href: "#/invoices" }, t("invoice.back"))),
    pageTitle(t("invoice.title", { number: inv.number })),
    h("p", {}, inv.description),
    facts(inv),
    h(
      "p",
      { class: "actions" },
      pdf,
      csv,
      payable ? h("a", { class: "button", id: "pay-invoice", href: `#/pay?invoice=${encodeURIComponent(inv.id)}` }, t("invoice.pay")) : null,
    ),
    result.el,
    h("h2", {}, t("invoice.lines")),
    inv.lines.length
      ? table(
          t("invoice.lines"),
          [t("invoice.description"), t("invoice.period"), t("invoice.quantity"), t("invoice.unit"), t("invoice.amount")],
          inv.lines.map((line) => lineRow(line, inv.currency)),
        )
      : h("p", {}, t("common.empty")),
  );
  if (inv.applications && inv.applications.length) {
    main.append(
      h("h2", {}, t("invoice.applied")),
      table(
        t("invoice.applied"),
        [t("invoice.source"), t("invoice.at"), t("invoice.amount")],
        inv.applications.map((a) =>
          h("tr", {}, h("td", {}, `${a.kind} ${a.source}`), h("td", {}, date(a.at)), h("td", { class: "num" }, money(a.amount, inv.currency))),
        ),
      ),
    );
  }
  return null;
}
