import { describe, expect, it } from "vitest";
import type { LoginInput } from "../src/bindings/LoginInput";
import {
  ABOUT,
  NOW,
  byTestId,
  choose,
  clickAndFlush,
  fakeBackend,
  flush,
  loggedOut,
  maybeTestId,
  policy,
  press,
  start,
  status,
  submit,
  text,
  typeInto,
} from "./helpers";

async function startLoggedOut(over: Parameters<typeof fakeBackend>[0] = {}) {
  return start(fakeBackend({ status: async () => loggedOut(), ...over }));
}

describe("login screen", () => {
  it("is shown at start when nobody is signed in, with the server's methods as tabs", async () => {
    await startLoggedOut();
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(text(document.querySelector("#screen-login h1"))).toBe("Sign in");
    const tabs = [...document.querySelectorAll('[role="tab"]')].map((t) => t.getAttribute("data-testid"));
    expect(tabs).toEqual(["method-user_list", "method-pin", "method-card", "method-card_pin", "method-password", "method-sso"]);
    expect(text(document.querySelector(".lead"))).toContain("Head office");
  });

  it("offers only the methods the server enables", async () => {
    await startLoggedOut({ loginPolicy: async () => policy({ methods: ["pin", "password"] }) });
    expect(maybeTestId("method-pin")).not.toBeNull();
    expect(maybeTestId("method-password")).not.toBeNull();
    expect(maybeTestId("method-card")).toBeNull();
    expect(maybeTestId("method-sso")).toBeNull();
  });

  const cases: { method: string; fill: () => void; expected: LoginInput }[] = [
    {
      method: "pin",
      fill: () => typeInto(byTestId("login-pin"), "1234"),
      expected: { method: "pin", pin: "1234" },
    },
    {
      method: "card",
      fill: () => typeInto(byTestId("login-card"), " 04A1B2C3 "),
      expected: { method: "card", card: "04A1B2C3" },
    },
    {
      method: "card_pin",
      fill: () => {
        typeInto(byTestId("login-card"), "04A1B2C3");
        typeInto(byTestId("login-pin"), "1234");
      },
      expected: { method: "card_pin", card: "04A1B2C3", pin: "1234" },
    },
    {
      method: "password",
      fill: () => {
        typeInto(byTestId("login-username"), "alice");
        typeInto(byTestId("login-password"), "alice-demo");
      },
      expected: { method: "password", username: "alice", password: "alice-demo" },
    },
    { method: "sso", fill: () => undefined, expected: { method: "sso" } },
  ];

  for (const c of cases) {
    it(`sends the ${c.method} input in the wire shape`, async () => {
      const { backend } = await startLoggedOut();
      await clickAndFlush(byTestId(`method-${c.method}`));
      expect(byTestId(`method-${c.method}`).getAttribute("aria-selected")).toBe("true");
      c.fill();
      await submit(byTestId("login-submit"));
      expect(backend.login).toHaveBeenCalledWith(c.expected, null);
    });
  }

  it("lists the directory, searches it (debounced) and signs in the chosen user", async () => {
    const { backend } = await startLoggedOut();
    // user_list is the first method: its list loads at once.
    expect(backend.directory).toHaveBeenCalledWith("");
    expect(maybeTestId("login-user-bob")).not.toBeNull();
    typeInto(byTestId("login-search"), "ca");
    typeInto(byTestId("login-search"), "car");
    await flush();
    expect(backend.directory).toHaveBeenLastCalledWith("car");
    expect(backend.directory).toHaveBeenCalledTimes(2);
    expect(maybeTestId("login-user-bob")).toBeNull();
    // The search field kept focus and its text through the re-render.
    expect(document.activeElement).toBe(byTestId("login-search"));
    expect(byTestId<HTMLInputElement>("login-search").value).toBe("car");
    byTestId("login-user-carol").click();
    await submit(byTestId("login-submit"));
    expect(backend.login).toHaveBeenCalledWith({ method: "user_list", username: "carol" }, null);
  });

  it("asks to choose a user before signing in from the list", async () => {
    const { backend } = await startLoggedOut();
    await submit(byTestId("login-submit"));
    expect(backend.login).not.toHaveBeenCalled();
    expect(text(document.getElementById("login-error"))).toBe("Choose your account in the list.");
  });

  it("sends the chosen remember-me option, or null for this session only", async () => {
    const { backend } = await startLoggedOut();
    await clickAndFlush(byTestId("method-pin"));
    const select = byTestId<HTMLSelectElement>("login-remember");
    const labels = [...select.options].map((o) => o.textContent);
    expect(labels).toEqual(["This session only", "1 hour", "8 hours", "1 day", "1 week", "Always (until I sign out)"]);
    expect(select.value).toBe("");
    expect(text(document.querySelector('label[for="login-remember-select"]'))).toBe("Stay signed in");
    choose(select, "1w");
    typeInto(byTestId("login-pin"), "1234");
    await submit(byTestId("login-submit"));
    expect(backend.login).toHaveBeenCalledWith({ method: "pin", pin: "1234" }, "1w");
  });

  it("hides remember-me entirely when it was disabled at installation", async () => {
    const { backend } = await startLoggedOut({ rememberOptions: async () => [] });
    await clickAndFlush(byTestId("method-pin"));
    expect(maybeTestId("login-remember")).toBeNull();
    expect(document.body.textContent).not.toContain("Stay signed in");
    typeInto(byTestId("login-pin"), "1234");
    await submit(byTestId("login-submit"));
    expect(backend.login).toHaveBeenCalledWith({ method: "pin", pin: "1234" }, null);
  });

  it("on a wrong password keeps the username, clears the password and focuses it", async () => {
    const { backend } = await startLoggedOut({
      login: async () => Promise.reject({ code: "AUTH_INVALID", message: "invalid credentials" }),
    });
    await clickAndFlush(byTestId("method-password"));
    choose(byTestId("login-remember"), "8h");
    typeInto(byTestId("login-username"), "alice");
    typeInto(byTestId("login-password"), "wrong");
    await submit(byTestId("login-submit"));
    expect(backend.login).toHaveBeenCalledTimes(1);
    expect(text(document.getElementById("login-error"))).toBe(
      "These details were not recognised. Check them and try again.",
    );
    expect(byTestId<HTMLInputElement>("login-username").value).toBe("alice");
    expect(byTestId<HTMLInputElement>("login-password").value).toBe("");
    expect(byTestId<HTMLSelectElement>("login-remember").value).toBe("8h");
    expect(document.activeElement).toBe(byTestId("login-password"));
    expect(byTestId("login-password").getAttribute("aria-invalid")).toBe("true");
    expect(byTestId("login-password").getAttribute("aria-describedby")).toContain("login-error");
    // Still on the login screen, and the message reached the live region.
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(text(document.getElementById("live"))).toContain("not recognised");
  });

  it("on a wrong PIN with a card keeps the card number", async () => {
    await startLoggedOut({ login: async () => Promise.reject({ code: "AUTH_INVALID", message: "no" }) });
    await clickAndFlush(byTestId("method-card_pin"));
    typeInto(byTestId("login-card"), "04A1B2C3");
    typeInto(byTestId("login-pin"), "9999");
    await submit(byTestId("login-submit"));
    expect(byTestId<HTMLInputElement>("login-card").value).toBe("04A1B2C3");
    expect(byTestId<HTMLInputElement>("login-pin").value).toBe("");
    expect(document.activeElement).toBe(byTestId("login-pin"));
  });

  it("shows until when a locked identity stays locked", async () => {
    const retry = NOW + 15 * 60_000;
    await startLoggedOut({
      login: async () => Promise.reject({ code: "AUTH_LOCKED", message: "locked", details: { retry_at_ms: retry } }),
    });
    await clickAndFlush(byTestId("method-pin"));
    typeInto(byTestId("login-pin"), "1111");
    await submit(byTestId("login-submit"));
    const expectedTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" }).format(new Date(retry));
    expect(text(document.getElementById("login-error"))).toBe(
      `Too many failed attempts: this identity is locked until ${expectedTime.replace(/\s+/g, " ")}.`,
    );
  });

  it("shows the server's message for a code it does not know", async () => {
    await startLoggedOut({ login: async () => Promise.reject({ code: "TEAPOT", message: "I am a teapot" }) });
    await clickAndFlush(byTestId("method-sso"));
    await submit(byTestId("login-submit"));
    expect(text(document.getElementById("login-error"))).toBe("I am a teapot");
  });

  it("checks the PIN's format before sending it", async () => {
    const { backend } = await startLoggedOut();
    await clickAndFlush(byTestId("method-pin"));
    typeInto(byTestId("login-pin"), "12a");
    await submit(byTestId("login-submit"));
    expect(backend.login).not.toHaveBeenCalled();
    expect(text(document.getElementById("login-error"))).toBe("A PIN has 4 to 16 digits.");
    expect(document.activeElement).toBe(byTestId("login-pin"));
  });

  it("offers single sign-on as the OS user", async () => {
    await startLoggedOut();
    await clickAndFlush(byTestId("method-sso"));
    expect(text(byTestId("login-submit"))).toBe(`Sign in as ${ABOUT.os_user}`);
  });

  it("moves between method tabs with the arrow keys", async () => {
    await startLoggedOut();
    byTestId("method-user_list").focus();
    press(byTestId("method-user_list"), "ArrowRight");
    await flush();
    expect(byTestId("method-pin").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(byTestId("method-pin"));
    expect(byTestId("method-user_list").getAttribute("tabindex")).toBe("-1");
    press(byTestId("method-pin"), "End");
    await flush();
    expect(document.activeElement).toBe(byTestId("method-sso"));
  });

  it("goes to the dashboard after signing in", async () => {
    let signedIn = false;
    const backend = fakeBackend({
      status: async () => (signedIn ? status() : loggedOut()),
      login: async () => {
        signedIn = true;
        return { username: "alice", full_name: "Alice Martin" };
      },
    });
    await start(backend);
    await clickAndFlush(byTestId("method-pin"));
    typeInto(byTestId("login-pin"), "1234");
    await submit(byTestId("login-submit"));
    expect(document.getElementById("screen-dashboard")).not.toBeNull();
    expect(text(byTestId("user-name"))).toBe("Alice Martin");
    expect(document.activeElement).toBe(document.querySelector("#screen-dashboard h1"));
    expect(byTestId<HTMLInputElement>("nav-logout")).not.toBeNull();
  });

  it("opens on a login_required event, restricted to its methods, naming the job in the user's language", async () => {
    const { backend } = await start(fakeBackend({ status: async () => loggedOut() }));
    await clickAndFlush(byTestId("nav-settings"));
    backend.emit({
      type: "login_required",
      reason: "“report.pdf” waits until you log in.",
      methods: ["pin", "card"],
      job: "report.pdf",
    });
    await flush();
    expect(document.getElementById("screen-login")).not.toBeNull();
    const tabs = [...document.querySelectorAll('[role="tab"]')].map((t) => t.getAttribute("data-testid"));
    expect(tabs).toEqual(["method-pin", "method-card"]);
    expect(text(document.getElementById("login-request"))).toContain("A print job is waiting: sign in to print it.");
    expect(text(document.getElementById("login-request"))).toContain("“report.pdf” waits until you sign in.");
    expect(document.activeElement).toBe(document.querySelector("#screen-login h1"));
  });

  it("sends an unconfigured client to the server settings", async () => {
    await start(fakeBackend({ status: async () => loggedOut({ server: null, connection: { state: "not_configured" } }) }));
    expect(document.getElementById("screen-settings")).not.toBeNull();
    expect(document.getElementById("screen-login")).toBeNull();
  });
});

describe("after a successful login", () => {
  it("leaves nothing of the person in the form for the next one", async () => {
    let signedIn = false;
    const backend = fakeBackend({
      status: async () => (signedIn ? status() : loggedOut()),
      login: async () => {
        signedIn = true;
        return { username: "alice", full_name: "Alice Martin" };
      },
      logout: async () => {
        signedIn = false;
        return null;
      },
    });
    await start(backend);
    await clickAndFlush(byTestId("method-password"));
    typeInto(byTestId("login-username"), "alice");
    typeInto(byTestId("login-password"), "alice-demo");
    await submit(byTestId("login-submit"));
    expect(document.getElementById("screen-dashboard")).not.toBeNull();
    await clickAndFlush(byTestId("nav-logout"));
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(byTestId<HTMLInputElement>("login-username").value).toBe("");
    expect(byTestId<HTMLInputElement>("login-password").value).toBe("");
  });
});
