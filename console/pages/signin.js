// #/signin: Cognito's hosted UI when config.json names one (deployed), else a token form (local).
// A one-click link `#/signin?token=…&account=acct_…` signs in at once; the token is removed from the
// address bar and history before anything else happens, and is kept in memory only.

import { accountFromToken, pendingToken, rememberedAccount } from "../app.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { busy, pageTitle, resultArea } from "../ui.js";

export async function render(ctx) {
  const { main, query, config } = ctx;
  const linkToken = query.get("token");
  const linkAccount = query.get("account") || query.get("account_id");
  if (linkToken) history.replaceState(null, "", `${location.pathname}#/signin`);
  const result = resultArea();
  main.append(pageTitle(t("signin.title")), h("p", {}, t("signin.intro")));
  if (ctx.notice) main.append(h("p", { class: "notice", role: "status" }, ctx.notice));

  if (config.cognito) {
    const button = h("button", { type: "button", id: "cognito-sign-in" }, t("signin.cognito"));
    button.addEventListener("click", async () => {
      busy(button, true);
      try {
        const { startSignIn } = await import("../cognito.js");
        await startSignIn(config);
      } catch (error) {
        busy(button, false);
        result.error(error);
      }
    });
    main.append(h("p", {}, button));
  }

  const token = h("textarea", { name: "token", rows: 3, required: true, autocomplete: "off", spellcheck: "false" });
  const account = h("input", { name: "account", type: "text", required: true, autocomplete: "off", pattern: "acct_\\S+" });
  const submit = h("button", { type: "submit" }, t("signin.submit"));
  const form = h(
    "form",
    { class: "card-panel", id: "signin-form" },
    h("h2", {}, t("signin.local")),
    field(t("signin.token"), token),
    field(t("signin.account"), account, t("signin.accountHint")),
    submit,
  );
  async function attempt(tokenText, accountText) {
    busy(submit, true);
    result.say(t("app.loading"));
    try {
      await ctx.signInWith(tokenText, accountText);
    } catch (error) {
      busy(submit, false);
      result.error(t("signin.failed", { detail: error.detail || error.message }));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(token.value.trim(), account.value.trim());
  });
  // deployed (Cognito configured) the token form is a fallback for support staff, folded away
  main.append(config.cognito ? h("details", {}, h("summary", {}, t("signin.local")), form) : form);
  if (Array.isArray(config.demoUsers) && config.demoUsers.length) {
    main.append(
      h(
        "section",
        { "aria-labelledby": "demo-users" },
        h("h2", { id: "demo-users" }, t("signin.demo")),
        h(
          "ul",
          { class: "plain" },
          config.demoUsers.map((user) =>
            h("li", {}, h("button", { type: "button", class: "secondary", onclick: () => attempt(user.token, user.account || user.accountId) }, user.label || user.id)),
          ),
        ),
      ),
    );
  }
  main.append(result.el);

  const carried = linkToken || pendingToken();
  if (carried) {
    token.value = carried;
    const accountId = linkAccount || accountFromToken(carried) || rememberedAccount();
    account.value = accountId;
    if (accountId) await attempt(carried, accountId);
  } else {
    account.value = rememberedAccount();
  }
  return null;
}
