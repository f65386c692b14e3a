import { describe, expect, it } from "vitest";
import {
  NOW,
  account,
  byTestId,
  clickAndFlush,
  fakeBackend,
  flush,
  job,
  maybeTestId,
  start,
  status,
  text,
  type FakeBackend,
} from "./helpers";

/** A backend whose user is signed in until `logout` (or until `session.signedIn` is set again). */
function signingOut(): { backend: FakeBackend; session: { signedIn: boolean } } {
  const session = { signedIn: true };
  const backend = fakeBackend({
    status: async () => (session.signedIn ? status() : status({ user: null, account: null, method: null })),
    logout: async () => {
      session.signedIn = false;
      return null;
    },
  });
  return { backend, session };
}

describe("dashboard", () => {
  it("shows who is signed in, credit, quotas, cost centres and projects", async () => {
    await start();
    expect(document.getElementById("screen-dashboard")).not.toBeNull();
    expect(text(byTestId("user-name"))).toBe("Alice Martin");
    expect(text(byTestId("user-username"))).toBe("alice");
    expect(text(byTestId("credit"))).toBe("€20.00");
    expect(text(byTestId("cost-centres"))).toContain("Marketing");
    expect(text(byTestId("projects"))).toContain("Brochure 2026");
    expect(text(byTestId("projects"))).toContain("Website");
    expect(text(document.getElementById("status-who"))).toBe("Signed in as Alice Martin");
    expect(text(document.getElementById("status-conn"))).toBe("Online");
    expect(text(byTestId("connection-state"))).toBe("Online");
    expect(text(document.getElementById("screen-dashboard"))).toContain("https://print.example.com:8631");
    expect(text(document.getElementById("screen-dashboard"))).toContain("Head office");
  });

  it("spends from what is available: the balance less what waiting jobs hold", async () => {
    const { backend } = await start();
    expect(maybeTestId("credit-reserved")).toBeNull();
    backend.emit({
      type: "status",
      status: status({ account: account({ credit_cents: 50, reserved_cents: 35, version: 11 }) }),
    });
    expect(text(byTestId("credit"))).toBe("€0.15");
    expect(text(byTestId("credit-reserved"))).toBe("€0.35 of your €0.50 is held by jobs waiting to print");
  });

  it("updates the credit on a pushed status, without reloading anything", async () => {
    const { backend } = await start();
    const screen = document.getElementById("screen-dashboard");
    expect(text(byTestId("credit"))).toBe("€20.00");
    const calls = backend.status.mock.calls.length;
    backend.emit({ type: "status", status: status({ account: account({ credit_cents: 2550, version: 11 }) }) });
    expect(text(byTestId("credit"))).toBe("€25.50");
    // No new request, no navigation: the push alone re-rendered the dashboard.
    expect(backend.status.mock.calls.length).toBe(calls);
    expect(backend.refreshAccount).not.toHaveBeenCalled();
    expect(document.getElementById("screen-dashboard")).not.toBeNull();
    expect(screen?.isConnected).toBe(false);
  });

  it("drops a pushed account older than the one shown", async () => {
    const { backend } = await start();
    backend.emit({ type: "status", status: status({ account: account({ credit_cents: 100, version: 9 }) }) });
    expect(text(byTestId("credit"))).toBe("€20.00");
  });

  it("keeps a pushed status when an older one arrives after it", async () => {
    // Signed in, the account not there yet; the push brings it before the reply to the
    // status request the sign-in made, which was taken earlier.
    const { app, backend } = await start(fakeBackend({ status: async () => status({ account: null, revision: 5 }) }));
    expect(maybeTestId("credit")).toBeNull();
    backend.emit({ type: "status", status: status({ revision: 7 }) });
    expect(text(byTestId("credit"))).toBe("€20.00");
    await app.refreshStatus();
    await flush();
    expect(text(byTestId("credit"))).toBe("€20.00");
    backend.emit({ type: "status", status: status({ account: account({ credit_cents: 900, version: 12 }), revision: 8 }) });
    expect(text(byTestId("credit"))).toBe("€9.00");
  });

  it("renders each quota with a meter and used, limit and remaining", async () => {
    await start(
      fakeBackend({
        status: async () =>
          status({
            account: account({
              quotas: [
                {
                  id: "q1",
                  name: "Monthly pages",
                  period: "month",
                  metric: "total_pages",
                  limit: 500,
                  used: 120,
                  reserved: 0,
                  remaining: 380,
                  period_start_ms: null,
                  period_end_ms: Date.UTC(2026, 3, 1),
                },
                {
                  id: "q2",
                  name: "Colour budget",
                  period: "year",
                  metric: "money",
                  limit: 5000,
                  used: 1250,
                  reserved: 250,
                  remaining: 3500,
                  period_start_ms: null,
                  period_end_ms: null,
                },
              ],
            }),
          }),
      }),
    );
    const pages = byTestId("quota-q1");
    expect(text(pages.querySelector("h3"))).toBe("Monthly pages");
    expect(text(pages)).toContain("Monthly · All pages");
    const meter = pages.querySelector("meter");
    expect(meter?.getAttribute("max")).toBe("500");
    expect(meter?.getAttribute("value")).toBe("120");
    expect(document.querySelector(`label[for="${meter?.id}"]`)).not.toBeNull();
    expect(text(pages.querySelector(".quota-used"))).toBe("120 pages");
    expect(text(pages.querySelector(".quota-limit"))).toBe("500 pages");
    expect(text(pages.querySelector(".quota-remaining"))).toBe("380 pages");
    expect(text(pages)).toContain("Starts again on 1 Apr 2026");

    const money = byTestId("quota-q2");
    expect(text(money)).toContain("Yearly · Amount");
    expect(text(money.querySelector(".quota-used"))).toBe("€12.50");
    expect(text(money.querySelector(".quota-limit"))).toBe("€50.00");
    expect(text(money.querySelector(".quota-reserved"))).toBe("€2.50");
    expect(text(money.querySelector(".quota-remaining"))).toBe("€35.00");
    expect(pages.querySelector(".quota-reserved")).toBeNull();
  });

  it("shows an offline banner with the time the account dates from", async () => {
    const asOf = NOW - 3_600_000;
    const { backend } = await start();
    expect(document.getElementById("offline-banner")).toBeNull();
    backend.emit({
      type: "status",
      status: status({
        connection: { state: "offline", since_ms: NOW - 60_000, reason: "connection refused" },
        account_stale: true,
        account_as_of_ms: asOf,
      }),
    });
    const banner = document.getElementById("offline-banner");
    expect(banner).not.toBeNull();
    expect(text(banner)).toContain("You are offline");
    const when = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" }).format(new Date(asOf));
    expect(text(document.getElementById("offline-as-of"))).toBe(`Showing your account as of ${when.replace(/\s+/g, " ")}.`);
    expect(text(byTestId("connection-state"))).toContain("Offline");
    expect(byTestId("connection-state").dataset.state).toBe("offline");
    expect(text(document.getElementById("status-conn"))).toBe("Offline");
    // Back online: the banner goes.
    backend.emit({ type: "status", status: status() });
    expect(document.getElementById("offline-banner")).toBeNull();
  });

  it("says single sign-on users are signed in as their OS account", async () => {
    await start(fakeBackend({ status: async () => status({ method: "sso", remember: null, session_ends_at_ms: null }) }));
    expect(text(byTestId("login-method"))).toBe("Signed in automatically as amartin, your computer account");
  });

  it("lists recent jobs with pages, cost, state and time", async () => {
    await start(
      fakeBackend({
        jobs: async () => [
          job({ id: "a", name: "old.pdf", state: "printed", pages: 3, price_cents: 15, created_at_ms: NOW - 86_400_000 }),
          job({ id: "b", name: "new.pdf", state: "rejected", pages: 2, copies: 2, price_cents: 40, created_at_ms: NOW }),
        ],
      }),
    );
    const rows = byTestId("recent-jobs").querySelectorAll("tbody tr");
    expect(rows.length).toBe(2);
    const cells = [...(rows[0]?.querySelectorAll("td") ?? [])].map((c) => text(c));
    expect(cells.slice(0, 4)).toEqual(["new.pdf", "4", "€0.40", "Rejected"]);
    expect(text(rows[1])).toContain("old.pdf");
    expect(text(rows[1])).toContain("Printed");
  });

  it("generates a new PIN and shows it once", async () => {
    const { backend } = await start();
    await clickAndFlush(byTestId("new-pin"));
    expect(backend.newPin).toHaveBeenCalledTimes(1);
    expect(text(byTestId("new-pin-value"))).toBe("482913");
    expect(document.activeElement?.id).toBe("new-pin-box");
    expect(text(document.getElementById("new-pin-box"))).toContain("it will not be shown again");
    const done = [...document.querySelectorAll<HTMLButtonElement>("#new-pin-box button")][0];
    done?.click();
    await flush();
    expect(maybeTestId("new-pin-value")).toBeNull();
    expect(document.body.textContent).not.toContain("482913");
    expect(document.activeElement).toBe(byTestId("new-pin"));
  });

  it("signs out from the navigation and shows the login screen", async () => {
    const { backend } = signingOut();
    await start(backend);
    await clickAndFlush(byTestId("nav-logout"));
    expect(backend.logout).toHaveBeenCalledTimes(1);
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(maybeTestId("nav-logout")).toBeNull();
    expect(maybeTestId("nav-login")).not.toBeNull();
    expect(text(document.getElementById("status-who"))).toBe("Not signed in");
  });

  it("says once, in the user's words, that signing out worked", async () => {
    const { backend, session } = signingOut();
    await start(backend);
    await clickAndFlush(byTestId("nav-logout"));
    // The engine's event may come after the command's reply.
    backend.emit({ type: "logged_out", reason: "logged out", cause: "user" });
    await flush();
    expect(text(document.getElementById("live"))).toContain("You are signed out.");
    expect(text(document.getElementById("live"))).not.toContain("logged out");
    // A later end of the session is news again.
    session.signedIn = true;
    backend.emit({ type: "status", status: status() });
    await flush();
    backend.emit({ type: "logged_out", reason: "the session has ended (revoked)", cause: "ended" });
    await flush();
    expect(text(document.getElementById("live"))).toContain("The server ended your session: you are signed out.");
    expect(text(document.getElementById("live"))).not.toContain("revoked");
  });

  it("takes the signed-out notice away once somebody signs in elsewhere, and only that notice", async () => {
    const { backend, session } = signingOut();
    await start(backend);
    await clickAndFlush(byTestId("nav-logout"));
    expect(text(document.getElementById("live"))).toContain("You are signed out.");
    // Signed in again from the terminal: the session's status is pushed here.
    session.signedIn = true;
    backend.emit({ type: "status", status: status() });
    await flush();
    expect(document.getElementById("screen-dashboard")).not.toBeNull();
    expect(text(document.getElementById("live"))).not.toContain("signed out");
    // Any other message stays until it is read.
    await clickAndFlush(byTestId("nav-logout"));
    backend.emit({ type: "server_unreachable", reason: "connection refused" });
    await flush();
    session.signedIn = true;
    backend.emit({ type: "status", status: status() });
    await flush();
    expect(text(document.getElementById("live"))).toContain("The server cannot be reached");
  });

  it("goes to the login screen when the engine logs the user out", async () => {
    const { backend } = await start();
    backend.status.mockResolvedValue(status({ user: null, account: null, method: null }));
    backend.emit({ type: "status", status: status({ user: null, account: null, method: null }) });
    backend.emit({ type: "logged_out", reason: "the remember-me period has ended", cause: "expired" });
    await flush();
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(text(document.getElementById("live"))).toContain("Your “stay signed in” period has ended: you are signed out.");
  });

  it("navigates from the tray", async () => {
    const { backend } = await start();
    backend.navigateTo("about");
    await flush();
    expect(document.getElementById("screen-about")).not.toBeNull();
    expect(document.activeElement).toBe(document.querySelector("#screen-about h1"));
    expect(byTestId("nav-about").getAttribute("aria-current")).toBe("page");
    backend.navigateTo("jobs");
    await flush();
    expect(document.getElementById("screen-jobs")).not.toBeNull();
  });
});
