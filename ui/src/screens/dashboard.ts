//! The account dashboard: who is signed in, credit, quotas, cost centres and projects,
//! recent jobs, the server and the connection, and a new PIN shown once. It re-renders
//! on every pushed status, so an administrator's top-up shows at once.

import type { App, Screen } from "../app";
import type { AccountRef } from "../bindings/AccountRef";
import type { AccountView } from "../bindings/AccountView";
import type { QuotaView } from "../bindings/QuotaView";
import { h, type Child } from "../dom";
import { toBackendError } from "../errors";

const RECENT_JOBS = 5;

export class DashboardScreen implements Screen {
  private newPin: string | null = null;
  private pinBusy = false;
  private pinError: string | null = null;

  constructor(private readonly app: App) {}

  onShow(): void {
    if (!this.app.jobsLoaded) void this.app.loadJobs();
    if (!this.app.policy) void this.app.loadPolicy();
  }

  render(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const status = app.status;
    const account = status?.account ?? null;
    const waiting = app.jobs.filter((j) => j.state === "waiting_for_user");

    const root = h(
      "section",
      { id: "screen-dashboard", class: "screen", "aria-labelledby": "dashboard-title" },
      h("h1", { id: "dashboard-title", tabindex: "-1" }, t.dashboardTitle),
    );
    if (waiting.length > 0) {
      root.append(
        h(
          "div",
          { class: "notice notice-warning", id: "waiting-jobs" },
          h("p", {}, t.waitingJobs(waiting.length)),
          h(
            "button",
            {
              type: "button",
              class: "button primary",
              on: { click: () => waiting.forEach((j) => void app.dialogs.open(j.id)) },
            },
            t.answer,
          ),
        ),
      );
    }
    root.append(
      h(
        "div",
        { class: "grid" },
        this.accountCard(account),
        this.creditCard(account),
        this.quotasCard(account),
        this.pinCard(account),
        this.refsCard("cost-centres", t.cardCostCentres, account?.cost_centres ?? []),
        this.refsCard("projects", t.cardProjects, account?.projects ?? []),
        this.recentJobsCard(),
        this.serverCard(),
      ),
    );
    return root;
  }

  private card(id: string, title: string, extraClass: string | null, ...children: Child[]): HTMLElement {
    return h(
      "section",
      { class: ["card", extraClass], "aria-labelledby": `${id}-title` },
      h("h2", { id: `${id}-title` }, title),
      ...children,
    );
  }

  private accountCard(account: AccountView | null): HTMLElement {
    const app = this.app;
    const t = app.t;
    const status = app.status;
    const user = status?.user;
    const method = status?.method ?? null;
    const ends = status?.session_ends_at_ms ?? null;
    const sessionText =
      ends !== null ? app.fmt.dateTime(ends) : status?.remember ? t.sessionUntilLogout : t.sessionThisSession;
    const methodText =
      method === "sso" ? t.ssoSignedInAs(app.about?.os_user || user?.username || "") : method ? t.methods[method] : null;
    return this.card(
      "account",
      t.cardAccount,
      null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t.labelFullName),
        h("dd", { testid: "user-name" }, account?.full_name || user?.full_name || user?.username || ""),
        h("dt", {}, t.labelUsername),
        h("dd", { testid: "user-username" }, account?.username ?? user?.username ?? ""),
        methodText ? [h("dt", {}, t.labelSignedInWith), h("dd", { testid: "login-method" }, methodText)] : null,
        user ? [h("dt", {}, t.labelSessionEnds), h("dd", {}, sessionText)] : null,
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "button", on: { click: () => void app.logout() } }, t.navLogout),
      ),
    );
  }

  private creditCard(account: AccountView | null): HTMLElement {
    const t = this.app.t;
    return this.card(
      "credit",
      t.cardCredit,
      null,
      account
        ? [
            h(
              "p",
              { class: "figure", testid: "credit" },
              this.app.fmt.money(account.credit_cents - account.reserved_cents, account.currency),
            ),
            h("p", { class: "muted" }, t.creditAvailable),
            account.reserved_cents > 0
              ? h(
                  "p",
                  { class: "muted small", testid: "credit-reserved" },
                  t.creditReserved(
                    this.app.fmt.money(account.reserved_cents, account.currency),
                    this.app.fmt.money(account.credit_cents, account.currency),
                  ),
                )
              : null,
            this.offlineLine(account),
          ]
        : h("p", { class: "muted" }, t.noAccount),
    );
  }

  /** What the user may print while the server cannot be reached, where it is limited. */
  private offlineLine(account: AccountView): HTMLElement | null {
    const t = this.app.t;
    const { pages, amount_cents } = account.offline_line;
    if (pages === null && amount_cents === null) return null;
    const parts = [
      pages !== null ? t.pageCount(pages, this.app.fmt.number(pages)) : null,
      amount_cents !== null ? this.app.fmt.money(amount_cents, account.currency) : null,
    ].filter((p): p is string => p !== null);
    return h("p", { class: "muted small", testid: "offline-line" }, t.offlineLine(parts.join(t.and)));
  }

  private quotasCard(account: AccountView | null): HTMLElement {
    const t = this.app.t;
    const quotas = account?.quotas ?? [];
    return this.card(
      "quotas",
      t.cardQuotas,
      "card-wide",
      quotas.length === 0
        ? h("p", { class: "muted" }, t.noQuotas)
        : h("ul", { class: "quota-list" }, quotas.map((q) => h("li", {}, this.quota(q, account?.currency ?? "")))),
    );
  }

  private quota(q: QuotaView, currency: string): HTMLElement {
    const app = this.app;
    const t = app.t;
    const fmt = app.fmt;
    const meterId = `quota-meter-${q.id}`;
    const max = Math.max(q.limit, 1);
    return h(
      "div",
      { class: "quota", testid: `quota-${q.id}` },
      h("h3", {}, q.name),
      h("p", { class: "muted" }, `${t.periods[q.period]} · ${t.metrics[q.metric]}`),
      h("label", { for: meterId, class: "sr-only" }, t.quotaMeterLabel(q.name)),
      h(
        "meter",
        {
          id: meterId,
          min: "0",
          max: String(max),
          value: String(Math.min(q.used, max)),
          low: String(max * 0.75),
          high: String(max * 0.9),
          optimum: "0",
        },
        `${fmt.quotaAmount(q, q.used, currency)} / ${fmt.quotaAmount(q, q.limit, currency)}`,
      ),
      h(
        "dl",
        { class: "facts facts-inline" },
        h("dt", {}, t.quotaUsed),
        h("dd", { class: "quota-used" }, fmt.quotaAmount(q, q.used, currency)),
        h("dt", {}, t.quotaLimit),
        h("dd", { class: "quota-limit" }, fmt.quotaAmount(q, q.limit, currency)),
        ...(q.reserved > 0
          ? [h("dt", {}, t.quotaReserved), h("dd", { class: "quota-reserved" }, fmt.quotaAmount(q, q.reserved, currency))]
          : []),
        h("dt", {}, t.quotaRemaining),
        h("dd", { class: "quota-remaining" }, fmt.quotaAmount(q, q.remaining, currency)),
      ),
      q.period !== "unlimited" && q.period_end_ms !== null
        ? h("p", { class: "muted small" }, t.quotaResets(fmt.date(q.period_end_ms)))
        : null,
    );
  }

  private pinCard(account: AccountView | null): HTMLElement {
    const app = this.app;
    const t = app.t;
    const generate = async () => {
      if (this.pinBusy) return;
      this.pinBusy = true;
      this.pinError = null;
      app.renderMain();
      try {
        this.newPin = await app.backend.newPin();
      } catch (e) {
        this.pinError = app.errorText(toBackendError(e));
        app.announce(this.pinError, "error");
      }
      this.pinBusy = false;
      app.renderMain();
      if (this.newPin !== null) document.getElementById("new-pin-box")?.focus();
    };
    const done = () => {
      this.newPin = null;
      app.renderMain();
      document.getElementById("new-pin-button")?.focus();
    };
    return this.card(
      "pin",
      t.cardPin,
      null,
      h("p", {}, account?.has_pin ? t.pinHas : t.pinHasNot),
      this.newPin !== null
        ? h(
            "div",
            {
              class: "pin-box",
              id: "new-pin-box",
              tabindex: "-1",
              role: "group",
              "aria-labelledby": "new-pin-label",
              "aria-describedby": "new-pin-once",
            },
            h("p", { id: "new-pin-label", class: "small" }, t.newPinShown),
            h("p", { class: "pin-value", testid: "new-pin-value" }, this.newPin),
            h("p", { id: "new-pin-once", class: "small" }, t.newPinOnce),
            h("button", { type: "button", class: "button", on: { click: done } }, t.newPinDone),
          )
        : [
            h("p", { class: "muted small", id: "new-pin-explain" }, t.newPinExplain),
            h(
              "button",
              {
                type: "button",
                class: "button",
                id: "new-pin-button",
                testid: "new-pin",
                "aria-describedby": "new-pin-explain",
                disabled: this.pinBusy,
                on: { click: () => void generate() },
              },
              this.pinBusy ? t.newPinBusy : t.newPinButton,
            ),
          ],
      this.pinError ? h("p", { class: "form-error" }, this.pinError) : null,
    );
  }

  private refsCard(id: string, title: string, refs: AccountRef[]): HTMLElement {
    const t = this.app.t;
    return this.card(
      id,
      title,
      null,
      refs.length === 0
        ? h("p", { class: "muted" }, t.none)
        : h(
            "ul",
            { class: "plain-list", testid: id },
            refs.map((r) =>
              h("li", {}, h("span", { class: "choice-main" }, r.name), r.description ? h("span", { class: "choice-detail" }, r.description) : null),
            ),
          ),
    );
  }

  private recentJobsCard(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const jobs = app.jobs.slice(0, RECENT_JOBS);
    const currency = app.currency();
    return this.card(
      "recent",
      t.cardRecentJobs,
      "card-wide",
      h(
        "div",
        { testid: "recent-jobs" },
        jobs.length === 0
          ? h("p", { class: "muted" }, t.noJobs)
          : h(
              "table",
              { class: "table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, t.colDocument),
                  h("th", { scope: "col", class: "num" }, t.colPages),
                  h("th", { scope: "col", class: "num" }, t.colCost),
                  h("th", { scope: "col" }, t.colState),
                  h("th", { scope: "col" }, t.colTime),
                ),
              ),
              h(
                "tbody",
                {},
                jobs.map((j) =>
                  h(
                    "tr",
                    { testid: `recent-job-${j.id}` },
                    h("td", { class: "doc-name" }, j.name),
                    h("td", { class: "num" }, app.fmt.number(j.pages * Math.max(j.copies, 1))),
                    h("td", { class: "num" }, app.fmt.money(j.price_cents, currency)),
                    h("td", {}, h("span", { class: ["state", `state-${j.state}`] }, t.jobStates[j.state])),
                    h("td", {}, app.fmt.when(j.created_at_ms)),
                  ),
                ),
              ),
            ),
      ),
      h("div", { class: "actions" }, h("button", { type: "button", class: "link-button", on: { click: () => app.navigate("jobs") } }, t.seeAllJobs)),
    );
  }

  private serverCard(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const status = app.status;
    const conn = status?.connection ?? { state: "connecting" as const };
    const connText =
      conn.state === "offline" ? `${t.connection.offline} · ${t.offlineSince(app.fmt.when(conn.since_ms))}` : t.connection[conn.state];
    return this.card(
      "server",
      t.cardServer,
      null,
      h(
        "dl",
        { class: "facts" },
        app.policy?.server_name ? [h("dt", {}, t.labelServerName), h("dd", {}, app.policy.server_name)] : null,
        h("dt", {}, t.labelServerUrl),
        h("dd", { class: "break" }, status?.server ?? t.notSet),
        h("dt", {}, t.labelConnection),
        h(
          "dd",
          { testid: "connection-state", "data-state": conn.state, class: ["conn", `conn-${conn.state}`] },
          h("span", { class: "dot", "aria-hidden": "true" }),
          connText,
        ),
        status?.account_stale && status.account_as_of_ms !== null
          ? h("dd", { class: "muted small" }, t.accountAsOf(app.fmt.dateTime(status.account_as_of_ms)))
          : null,
      ),
    );
  }
}
