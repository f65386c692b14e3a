// The real backend module over Tauri's mocked IPC: every command goes out under its Rust
// name with camelCase arguments, and events arrive from the two channels.
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it } from "vitest";
import { EVENT_CLIENT, EVENT_NAVIGATE, tauriBackend } from "../src/backend";
import type { ClientEvent } from "../src/bindings/ClientEvent";
import { flush, job } from "./helpers";

afterEach(() => clearMocks());

describe("backend over Tauri IPC", () => {
  it("calls each command by its Rust name with the contract's arguments", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === "new_pin" ? "123456" : null;
    });
    const answer = { payment: null, project: null, accept: true, apply_to_all_waiting: false, answers: {} };
    await tauriBackend.status();
    await tauriBackend.loginPolicy();
    await tauriBackend.rememberOptions();
    await tauriBackend.directory("ali");
    await tauriBackend.login({ method: "pin", pin: "1234" }, "8h");
    await tauriBackend.logout();
    expect(await tauriBackend.newPin()).toBe("123456");
    await tauriBackend.refreshAccount();
    await tauriBackend.queues();
    await tauriBackend.jobs();
    await tauriBackend.jobDialog("j1");
    await tauriBackend.answerJob("j1", answer);
    await tauriBackend.releaseJob("j1", "Floor 2");
    await tauriBackend.deleteJob("j1");
    await tauriBackend.about();
    await tauriBackend.desktopSettings();
    await tauriBackend.setLanguage(null);
    await tauriBackend.setServer("https://print", "AB:CD");
    const strip = (a: unknown) => (a && typeof a === "object" && Object.keys(a).length === 0 ? undefined : a);
    expect(calls.map(([c, a]) => [c, strip(a)])).toEqual([
      ["status", undefined],
      ["login_policy", undefined],
      ["remember_options", undefined],
      ["directory", { search: "ali" }],
      ["login", { input: { method: "pin", pin: "1234" }, remember: "8h" }],
      ["logout", undefined],
      ["new_pin", undefined],
      ["refresh_account", undefined],
      ["queues", undefined],
      ["jobs", undefined],
      ["job_dialog", { id: "j1" }],
      ["answer_job", { id: "j1", answer }],
      ["release_job", { id: "j1", printer: "Floor 2" }],
      ["delete_job", { id: "j1" }],
      ["about", undefined],
      ["desktop_settings", undefined],
      ["set_language", { language: null }],
      ["set_server", { url: "https://print", fingerprint: "AB:CD" }],
    ]);
  });

  it("passes a rejected command's {code, message, details} through", async () => {
    mockIPC(() => {
      throw { code: "CERTIFICATE_UNTRUSTED", message: "untrusted", details: { fingerprint: "AB" } };
    });
    await expect(tauriBackend.setServer("https://x", null)).rejects.toEqual({
      code: "CERTIFICATE_UNTRUSTED",
      message: "untrusted",
      details: { fingerprint: "AB" },
    });
  });

  it("delivers engine events and tray navigation", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const events: ClientEvent[] = [];
    const targets: string[] = [];
    const offEvents = await tauriBackend.onEvent((e) => events.push(e));
    const offNav = await tauriBackend.onNavigate((t) => targets.push(t));
    const changed: ClientEvent = { type: "job_changed", job: job() };
    await emit(EVENT_CLIENT, changed);
    await emit(EVENT_NAVIGATE, "job:j1");
    await flush();
    expect(events).toEqual([changed]);
    expect(targets).toEqual(["job:j1"]);
    offEvents();
    offNav();
  });
});
