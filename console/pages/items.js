// #/items: billing items with the views and filters GET …/billing-items offers (view, device, status,
// category; cursor paging); associate / dissociate one item (PUT · DELETE …/device), bulk-associate or
// dissociate the selected ones (POST …/bulk, one Idempotency-Key per click), cancel now or at the
// anniversary (POST …/cancellation, keyed) and undo a scheduled cancellation (DELETE …/cancellation).

import { Action, acct, get, request } from "../api.js";
import { clear, field, h, nextId, select, table } from "../dom.js";
import { date, money, t } from "../i18n.js";
import { busy, pageTitle, pager, resultArea } from "../ui.js";

async function allDevices() {
  const devices = [];
  let cursor = null;
  do {
    const page = await get(acct("/devices"), { limit: 100, cursor });
    devices.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return devices;
}

function statusText(item) {
  if (item.status === "pending_cancellation") return t("items.status.pending_cancellation", { date: date(item.cancel_at) });
  return t(`items.status.${item.status}`);
}

export async function render(ctx) {
  const { main } = ctx;
  const devices = await allDevices();
  const deviceName = (id) => (devices.find((d) => d.id === id) || { name: id }).name;
  const deviceOptions = devices.map((d) => [d.id, `${d.name} (${d.kind})`]);
  const result = resultArea();
  const selected = new Map(); // item id -> item

  const view = select(
    "view",
    ["associated", "dissociated", "all"].map((v) => [v, t(`items.view.${v}`)]),
    ctx.query.get("view") || "associated",
  );
  const device = select("device_id", [["", t("items.anyDevice")], ...deviceOptions], "");
  const status = select("status", [["", t("common.all")], ...["active", "pending_cancellation", "cancelled"].map((v) => [v, t(`items.status.${v}`, { date: "…" })])], "");
  const category = h("input", { name: "category", type: "text", maxlength: 50 });
  const filters = h(
    "form",
    { class: "filters", "aria-label": t("items.filters") },
    field(t("items.view"), view),
    field(t("items.device"), device),
    field(t("items.status"), status),
    field(t("items.category"), category),
    h("button", { type: "submit" }, t("common.apply")),
  );

  // bulk bar
  const count = h("p", { id: "selected-count", "aria-live": "polite" }, t("items.selected", { count: 0 }));
  const bulkDevice = select("bulk-device", [["", "—"], ...deviceOptions], "");
  const bulkAssociate = h("button", { type: "button", id: "bulk-associate" }, t("items.bulkAssociate"));
  const bulkDissociate = h("button", { type: "button", class: "secondary", id: "bulk-dissociate" }, t("items.bulkDissociate"));
  const bulkBar = h("section", { class: "bulk", "aria-labelledby": "bulk-title" }, h("h2", { id: "bulk-title" }, t("items.bulk")), count, field(t("items.bulkDevice"), bulkDevice), h("p", { class: "actions" }, bulkAssociate, bulkDissociate));

  const listArea = h("div", { id: "item-list" });
  const dialog = h("dialog", { id: "item-dialog", "aria-labelledby": "item-dialog-title" });
  const refreshCount = () => {
    count.textContent = t("items.selected", { count: selected.size });
  };

  const query = () => ({ view: view.value, device_id: device.value, status: status.value, category: category.value.trim() });
  const pages = pager(async (cursor) => {
    const page = await get(acct("/billing-items"), { ...query(), cursor, limit: 25 });
    selected.clear();
    refreshCount();
    const selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": t("items.selectAll") });
    const boxes = [];
    const rows = page.data.map((item) => {
      const box = h("input", { type: "checkbox", "aria-label": t("items.select", { name: item.description }), dataset: { itemId: item.id } });
      box.addEventListener("change", () => {
        if (box.checked) selected.set(item.id, item);
        else selected.delete(item.id);
        refreshCount();
      });
      boxes.push(box);
      return h(
        "tr",
        { dataset: { itemId: item.id } },
        h("td", {}, box),
        h("th", { scope: "row" }, item.description),
        h("td", {}, item.category),
        h("td", {}, item.device_id ? deviceName(item.device_id) : "—"),
        h("td", { class: "num" }, money(item.recurring_fee, item.currency)),
        h("td", {}, statusText(item)),
        h("td", { class: "row-actions" }, actions(item)),
      );
    });
    selectAll.addEventListener("change", () => {
      boxes.forEach((b) => {
        b.checked = selectAll.checked;
        b.dispatchEvent(new Event("change"));
      });
    });
    clear(
      listArea,
      page.data.length
        ? table(t("items.title"), [selectAll, t("items.description"), t("items.category"), t("items.device"), t("items.fee"), t("items.status"), t("items.actions")], rows)
        : h("p", {}, t("common.empty")),
    );
    return page.next_cursor;
  });

  function actions(item) {
    if (item.status === "cancelled") return [];
    const out = [];
    if (item.device_id) {
      out.push(h("button", { type: "button", class: "secondary small", "aria-label": t("items.dissociateName", { name: item.description }), onclick: () => dissociate(item) }, t("items.dissociate")));
    } else {
      out.push(h("button", { type: "button", class: "secondary small", "aria-label": t("items.associateName", { name: item.description }), onclick: () => openAssociate(item) }, t("items.associate")));
    }
    if (item.status === "pending_cancellation") {
      out.push(h("button", { type: "button", class: "secondary small", "aria-label": t("items.undoName", { name: item.description }), onclick: () => undo(item) }, t("items.undo")));
    } else {
      out.push(h("button", { type: "button", class: "danger small", "aria-label": t("items.cancelName", { name: item.description }), onclick: () => openCancel(item) }, t("items.cancel")));
    }
    return out;
  }

  async function run(fn) {
    try {
      await fn();
      await pages.reload();
    } catch (error) {
      result.error(error);
    }
  }

  const itemPath = (item, tail) => acct(`/billing-items/${encodeURIComponent(item.id)}${tail}`);

  function dissociate(item) {
    return run(async () => {
      await request("DELETE", itemPath(item, "/device"));
      result.say(t("items.dissociatedDone", { name: item.description }));
    });
  }

  function undo(item) {
    return run(async () => {
      await request("DELETE", itemPath(item, "/cancellation"));
      result.say(t("items.undone", { name: item.description }));
    });
  }

  function openDialog(title, body, onSubmit) {
    const titleId = "item-dialog-title";
    const submit = h("button", { type: "submit" }, title.button);
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: titleId }, title.text),
      body,
      h("p", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, t("common.cancel"))),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(submit, true);
      await onSubmit();
      busy(submit, false);
      dialog.close(); // a refusal is shown in the page's result area, which the modal would hide
    });
    clear(dialog, form);
    dialog.showModal();
  }

  function openAssociate(item) {
    const pick = select("device", deviceOptions, deviceOptions[0] && deviceOptions[0][0], { id: nextId("assoc") });
    openDialog({ text: t("items.associateTitle", { name: item.description }), button: t("items.associate") }, field(t("items.device"), pick), async () => {
      let ok = false;
      await run(async () => {
        await request("PUT", itemPath(item, "/device"), { body: { device_id: pick.value } });
        result.say(t("items.associated", { name: item.description, device: deviceName(pick.value) }));
        ok = true;
      });
      return ok;
    });
  }

  const cancelAction = new Action();
  function openCancel(item) {
    const whenName = nextId("when");
    const choice = (value, checked) => {
      const id = nextId("when");
      return h("div", { class: "choice" }, h("input", { type: "radio", name: whenName, value, id, checked }), h("label", { for: id }, t(`items.when.${value}`)));
    };
    const reason = h("input", { type: "text", name: "reason", maxlength: 500 });
    const body = [h("fieldset", { class: "choices" }, h("legend", {}, t("items.when")), choice("anniversary", true), choice("now", false)), field(t("items.reason"), reason)];
    openDialog({ text: t("items.cancelTitle", { name: item.description }), button: t("items.confirmCancel") }, body, async () => {
      const when = dialog.querySelector(`input[name="${whenName}"]:checked`).value;
      const payload = { when, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) };
      let ok = false;
      await run(async () => {
        try {
          const out = await request("POST", itemPath(item, "/cancellation"), { body: payload, key: cancelAction.keyFor({ item: item.id, ...payload }) });
          cancelAction.settle();
          result.say(
            when === "now"
              ? t("items.cancelledNow", { name: item.description, amount: money(out.refund_amount, item.currency) })
              : t("items.cancelScheduled", { name: item.description, date: date(out.item.cancel_at) }),
          );
          ok = true;
        } catch (error) {
          cancelAction.settle(error);
          throw error;
        }
      });
      return ok;
    });
  }

  const bulkAction = new Action();
  async function bulk(kind, button) {
    if (!selected.size) {
      result.error(t("items.noSelection"));
      return;
    }
    if (kind === "associate" && !bulkDevice.value) {
      result.error(t("items.noDevice"));
      bulkDevice.focus();
      return;
    }
    const body = { action: kind, item_ids: [...selected.keys()] };
    if (kind === "associate") body.device_id = bulkDevice.value;
    busy(button, true);
    await run(async () => {
      try {
        const out = await request("POST", acct("/billing-items/bulk"), { body, key: bulkAction.keyFor(body) });
        bulkAction.settle();
        const failed = out.results.filter((r) => !r.ok);
        const names = (id) => (selected.get(id) || { description: id }).description;
        result.say(
          t("items.bulkResult", { ok: out.results.length - failed.length, total: out.results.length }),
          failed.length ? h("ul", {}, failed.map((r) => h("li", {}, t("items.bulkFailed", { item: names(r.item_id), error: r.error })))) : null,
        );
      } catch (error) {
        bulkAction.settle(error);
        throw error;
      }
    });
    busy(button, false);
  }
  bulkAssociate.addEventListener("click", () => bulk("associate", bulkAssociate));
  bulkDissociate.addEventListener("click", () => bulk("dissociate", bulkDissociate));

  filters.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await pages.reset();
    } catch (error) {
      result.error(error);
    }
  });

  main.append(pageTitle(t("items.title")), filters, result.el, bulkBar, listArea, pages.el, dialog);
  await pages.reset();
  return () => {
    if (dialog.open) dialog.close();
  };
}
