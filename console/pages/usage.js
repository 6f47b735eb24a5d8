// #/usage: GET …/usage by service, metric, device or day for the current period or a past month
// (CSV too), and the monthly budget: view (GET …/budget), set (PUT), delete (DELETE).

import { acct, get, request } from "../api.js";
import { clear, downloadBlob, field, h, select, table } from "../dom.js";
import { amountInput, date, money, monthLabel, number, parseAmount, t } from "../i18n.js";
import { busy, pageTitle, resultArea } from "../ui.js";

const GROUPS = ["service", "metric", "device", "day"];

function pastMonths(count) {
  const now = new Date();
  const out = [];
  for (let i = 1; i <= count; i += 1) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

function usageTable(view, groupBy, deviceName) {
  const cols = { service: ["service"], metric: ["service", "metric"], device: ["service", "metric", "device_id"], day: ["service", "metric", "day"] }[groupBy];
  const heads = cols.map((c) => t(`usage.${c === "device_id" ? "device" : c}`));
  const cell = (line, c) => {
    if (c === "device_id") return line.device_id ? deviceName(line.device_id) : t("usage.noDevice");
    if (c === "day") return date(line.day);
    if (c === "metric") return line.description || line.metric || "—";
    return line[c] || "—";
  };
  const rows = view.lines.map((line) =>
    h(
      "tr",
      {},
      cols.map((c) => h("td", {}, cell(line, c))),
      h("td", { class: "num" }, number(line.quantity)),
      h("td", { class: "num" }, number(line.included)),
      h("td", { class: "num" }, number(line.billable)),
      h("td", { class: "num" }, money(line.amount, view.currency)),
    ),
  );
  rows.push(
    h(
      "tr",
      { class: "total" },
      h("th", { scope: "row", colspan: String(cols.length + 3) }, t("usage.total")),
      h("td", { class: "num", id: "usage-total", dataset: { minor: String(view.total) } }, money(view.total, view.currency)),
    ),
  );
  return table(
    t("usage.table", { start: date(view.period.start), end: date(view.period.end) }),
    [...heads, t("usage.quantity"), t("usage.included"), t("usage.billable"), t("usage.amount")],
    rows,
  );
}

function budgetFacts(b) {
  if (b.amount === null || b.amount === undefined) return [h("p", { id: "budget-amount" }, t("budget.none")), h("p", {}, t("budget.estimate", { amount: money(b.period_estimate, b.currency) }))];
  return [
    h("p", { id: "budget-amount", dataset: { minor: String(b.amount) } }, t("budget.amountIs", { amount: money(b.amount, b.currency) })),
    h("p", { id: "budget-estimate" }, t("budget.estimate", { amount: money(b.period_estimate, b.currency) })),
    h("p", {}, t("budget.thresholdsAre", { list: b.thresholds.join(", ") })),
    b.crossed.length ? h("p", { class: "banner" }, t("budget.crossed", { list: b.crossed.join(", ") })) : null,
  ];
}

async function deviceNames() {
  try {
    const page = await get(acct("/devices"), { limit: 100 });
    return new Map(page.data.map((d) => [d.id, d.name]));
  } catch {
    return new Map(); // an unlinked account has no devices: the ids are shown as they are
  }
}

export async function render(ctx) {
  const { main } = ctx;
  const s = ctx.summary;
  const names = s.capabilities.devices ? await deviceNames() : new Map();
  const deviceName = (id) => names.get(id) || id;
  const period = select("period", [["current", t("usage.current")], ...pastMonths(6).map((m) => [m, monthLabel(m)])], "current");
  const groupBy = select("group_by", GROUPS.map((g) => [g, t(`usage.by.${g}`)]), ctx.query.get("group_by") || "metric");
  const form = h("form", { class: "filters", "aria-label": t("usage.filters") }, field(t("usage.period"), period), field(t("usage.groupBy"), groupBy), h("button", { type: "submit" }, t("common.apply")));
  const area = h("div", { id: "usage-view" });
  const result = resultArea();
  const csv = h("button", { type: "button", class: "secondary", id: "usage-csv" }, t("common.downloadCsv"));

  async function load() {
    const view = await get(acct("/usage"), { period: period.value, group_by: groupBy.value });
    clear(area, view.lines.length ? usageTable(view, groupBy.value, deviceName) : h("p", {}, t("common.empty")));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await load();
    } catch (error) {
      result.error(error);
    }
  });
  csv.addEventListener("click", async () => {
    busy(csv, true);
    try {
      downloadBlob(await get(acct("/usage.csv"), { period: period.value, group_by: groupBy.value }, "blob"), `usage-${period.value}.csv`);
    } catch (error) {
      result.error(error);
    } finally {
      busy(csv, false);
    }
  });

  // the budget
  const budgetArea = h("div", { id: "budget" });
  const budgetResult = resultArea();
  const amount = h("input", { name: "budget-amount", type: "text", inputmode: "decimal", required: true, autocomplete: "off" });
  const thresholds = h("input", { name: "budget-thresholds", type: "text", autocomplete: "off", value: "50, 80, 100" });
  const save = h("button", { type: "submit", id: "budget-save" }, t("budget.save"));
  const remove = h("button", { type: "button", class: "danger", id: "budget-delete" }, t("budget.delete"));
  const budgetForm = h("form", { id: "budget-form" }, field(t("budget.amount", { currency: s.currency.toUpperCase() }), amount), field(t("budget.thresholds"), thresholds), h("p", { class: "actions" }, save, remove));
  const showBudget = (b) => {
    clear(budgetArea, budgetFacts(b));
    remove.hidden = b.amount === null || b.amount === undefined;
    if (b.amount) {
      amount.value = amountInput(b.amount, b.currency);
      thresholds.value = b.thresholds.join(", ");
    }
  };
  budgetForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const minor = parseAmount(amount.value, s.currency);
    const list = thresholds.value.split(/[,;\s]+/).filter(Boolean).map(Number);
    if (minor === null || minor <= 0) {
      budgetResult.error(t("pay.amountInvalid", { max: money(99_999_999, s.currency) }));
      return;
    }
    if (!list.length || list.some((x) => !Number.isInteger(x) || x < 1 || x > 1000)) {
      budgetResult.error(t("budget.invalidThresholds"));
      return;
    }
    busy(save, true);
    try {
      showBudget(await request("PUT", acct("/budget"), { body: { amount: minor, thresholds: list } }));
      budgetResult.say(t("budget.saved"));
    } catch (error) {
      budgetResult.error(error);
    } finally {
      busy(save, false);
    }
  });
  remove.addEventListener("click", async () => {
    busy(remove, true);
    try {
      await request("DELETE", acct("/budget"));
      showBudget(await get(acct("/budget")));
      budgetResult.say(t("budget.deleted"));
    } catch (error) {
      budgetResult.error(error);
    } finally {
      busy(remove, false);
    }
  });

  main.append(
    pageTitle(t("usage.title")),
    form,
    area,
    h("p", { class: "actions" }, csv),
    result.el,
    h("section", { "aria-labelledby": "budget-title" }, h("h2", { id: "budget-title" }, t("budget.title")), budgetArea, budgetForm, budgetResult.el),
  );
  await Promise.all([load(), get(acct("/budget")).then(showBudget)]);
  return null;
}
