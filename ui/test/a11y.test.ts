// axe-core on every screen, in English and in French. Colour contrast cannot be
// computed in jsdom (no layout); the palette in styles.css is chosen for it instead.
import { describe, expect, it } from "vitest";
import type { Lang } from "../src/i18n";
import {
  NOW,
  account,
  byTestId,
  clickAndFlush,
  dialog,
  expectAccessible,
  fakeBackend,
  flush,
  job,
  loggedOut,
  offer,
  start,
  status,
  submit,
  typeInto,
} from "./helpers";

const LANGS: Lang[] = ["en", "fr"];

function backendIn(lang: Lang, over: Parameters<typeof fakeBackend>[0] = {}) {
  const backend = fakeBackend({
    jobs: async () => [
      job({ id: "h1", state: "held" }),
      job({ id: "w1", name: "brochure.pdf", state: "waiting_for_user", created_at_ms: NOW }),
      job({ id: "r1", state: "rejected", reason: "over quota" }),
    ],
    ...over,
  });
  backend.desktopSettings.mockResolvedValue({ server: "https://print.example.com", language: lang, remember_me: true });
  return backend;
}

describe.each(LANGS)("accessibility (%s)", (lang) => {
  it("login, every method, with an error and a waiting job's request", async () => {
    const { backend } = await start(backendIn(lang, { status: async () => loggedOut() }));
    expect(document.documentElement.lang).toBe(lang);
    await expectAccessible();
    backend.emit({ type: "login_required", reason: "a job waits", methods: [], job: "j1" });
    await flush();
    for (const m of ["pin", "card", "card_pin", "password", "sso"]) {
      await clickAndFlush(byTestId(`method-${m}`));
      await expectAccessible();
    }
    await clickAndFlush(byTestId("method-pin"));
    await submit(byTestId("login-submit"));
    expect(document.getElementById("login-error")).not.toBeNull();
    await expectAccessible();
  });

  it("dashboard, online and offline, with a new PIN shown", async () => {
    const { backend } = await start(backendIn(lang));
    await expectAccessible();
    backend.emit({
      type: "status",
      status: status({
        connection: { state: "offline", since_ms: NOW, reason: "refused" },
        account_stale: true,
        account: account({
          quotas: [
            ...account().quotas,
            {
              id: "q2",
              name: "Money",
              period: "week",
              metric: "money",
              limit: 1000,
              used: 989,
              reserved: 10,
              remaining: 1,
              period_start_ms: null,
              period_end_ms: null,
            },
          ],
        }),
      }),
    });
    await clickAndFlush(byTestId("new-pin"));
    await expectAccessible();
  });

  it("my jobs", async () => {
    await start(backendIn(lang));
    await clickAndFlush(byTestId("nav-jobs"));
    expect(document.getElementById("screen-jobs")).not.toBeNull();
    await expectAccessible();
  });

  it("job dialog with every kind of choice and question, and its errors", async () => {
    const { backend } = await start(backendIn(lang));
    backend.emit({
      type: "job_dialog",
      dialog: dialog({
        notices: ["Colour jobs over 10 pages go to the print room."],
        questions: [
          { id: "yn", kind: "yes_no", text: "Print anyway?", choices: [] },
          { id: "pn", kind: "print_no", text: "Print?", choices: [] },
          { id: "ync", kind: "yes_no_cancel", text: "Staple?", choices: [] },
          { id: "t", kind: "text", text: "Why?", choices: [] },
          { id: "n", kind: "number", text: "Sets", choices: [] },
          { id: "c", kind: "choice", text: "Mode", choices: ["mono", "colour"] },
          { id: "b", kind: "checkbox", text: "I agree", choices: [] },
        ],
      }),
    });
    backend.emit({ type: "job_dialog", dialog: dialog({ job: job({ id: "w2", state: "waiting_for_user" }) }) });
    expect(document.getElementById("screen-job-dialog")).not.toBeNull();
    await expectAccessible();
    await submit(byTestId("dialog-print"));
    expect(document.getElementById("job-project-error")).not.toBeNull();
    await expectAccessible();
  });

  it("fallback dialog, with printers and an address to type, then with none, and its error", async () => {
    const { backend } = await start(
      backendIn(lang, {
        status: async () =>
          status({ connection: { state: "offline", since_ms: NOW - 60_000, reason: "x" }, offline_pending: 2 }),
      }),
    );
    backend.emit({ type: "fallback_offered", offer: offer() });
    expect(document.getElementById("screen-fallback")).not.toBeNull();
    await expectAccessible();
    await submit(byTestId("fallback-print"));
    backend.emit({ type: "fallback_offered", offer: offer({ job: "spool-2", printers: [], may_type: true }) });
    await submit(byTestId("fallback-print"));
    expect(document.getElementById("fallback-error")).not.toBeNull();
    await expectAccessible();
    backend.emit({ type: "fallback_closed", job: "spool-2" });
    backend.emit({ type: "fallback_offered", offer: offer({ job: "spool-3", printers: [], may_type: false }) });
    await expectAccessible();
  });

  it("settings, with a certificate to confirm", async () => {
    await start(
      backendIn(lang, {
        setServer: async () => Promise.reject({ code: "CERTIFICATE_UNTRUSTED", message: "", details: { fingerprint: "AB:CD" } }),
      }),
    );
    await clickAndFlush(byTestId("nav-settings"));
    await expectAccessible();
    typeInto(byTestId("server-url"), "https://other.example.com");
    await submit(byTestId("server-save"));
    expect(byTestId("accept-fingerprint")).not.toBeNull();
    await expectAccessible();
  });

  it("about", async () => {
    await start(backendIn(lang));
    await clickAndFlush(byTestId("nav-about"));
    expect(document.getElementById("screen-about")).not.toBeNull();
    await expectAccessible();
  });
});
