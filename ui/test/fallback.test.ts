import { describe, expect, it } from "vitest";
import {
  account,
  byTestId,
  check,
  clickAndFlush,
  dialog,
  fakeBackend,
  flush,
  job,
  maybeTestId,
  offer,
  press,
  start,
  status,
  submit,
  text,
  typeInto,
} from "./helpers";

function dialogRoot(): HTMLElement | null {
  return document.getElementById("screen-fallback");
}

describe("fallback dialog", () => {
  it("opens on an offer as a modal listing each printer with its live state", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer() });
    const root = dialogRoot();
    expect(root?.getAttribute("role")).toBe("dialog");
    expect(root?.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement?.id).toBe("fallback-title");
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(true);
    const printers = text(document.getElementById("fallback-printers"));
    expect(printers).toContain("Hall Ready · set by your administrator");
    expect(printers).toContain("Basement Not answering");
    expect(printers).toContain("Desk USB Busy · on this computer");
    expect(text(document.getElementById("fallback-intro"))).toContain("(3 pages)");
    // The first printer that answers is chosen.
    expect(byTestId<HTMLInputElement>("fallback-printer-Hall").checked).toBe(true);
  });

  it("sends the job to the printer chosen, and closes", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer() });
    check(byTestId("fallback-printer-Desk USB"));
    await submit(byTestId("fallback-print"));
    expect(backend.answerFallback).toHaveBeenCalledWith("spool-1", { action: "print", printer: "Desk USB" });
    expect(dialogRoot()).toBeNull();
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(false);
    expect(text(document.getElementById("live"))).toContain("“report.pdf” is being sent to Desk USB.");
  });

  it("takes a printer's address typed, and says when nothing is chosen", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer({ printers: [] }) });
    await submit(byTestId("fallback-print"));
    expect(backend.answerFallback).not.toHaveBeenCalled();
    expect(text(document.getElementById("fallback-error"))).toBe("Choose a printer, or type its address.");
    typeInto(byTestId("fallback-typed"), "printer.example");
    expect(byTestId<HTMLInputElement>("fallback-printer-typed").checked).toBe(true);
    await submit(byTestId("fallback-print"));
    expect(backend.answerFallback).toHaveBeenCalledWith("spool-1", { action: "print", printer: "printer.example" });
  });

  it("offers only to try again or cancel when no printer may be used", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer({ printers: [], may_type: false }) });
    expect(maybeTestId("fallback-print")).toBeNull();
    expect(document.getElementById("fallback-printers")).toBeNull();
    expect(text(document.getElementById("fallback-intro"))).toContain("waits for it");
    await submit(byTestId("fallback-retry"));
    expect(backend.answerFallback).toHaveBeenCalledWith("spool-1", { action: "try_again" });
    backend.emit({ type: "fallback_offered", offer: offer({ printers: [], may_type: false }) });
    await clickAndFlush(byTestId("fallback-cancel"));
    expect(backend.answerFallback).toHaveBeenLastCalledWith("spool-1", { action: "cancel" });
    expect(text(document.getElementById("live"))).toContain("“report.pdf” was cancelled.");
  });

  it("shows the engine's refusal in the dialog and keeps it open", async () => {
    const backend = fakeBackend({
      answerFallback: async () => {
        throw { code: "CONFIG", message: "Nowhere is not offered for this job" };
      },
    });
    await start(backend);
    backend.emit({ type: "fallback_offered", offer: offer() });
    await submit(byTestId("fallback-print"));
    expect(dialogRoot()).not.toBeNull();
    expect(text(document.getElementById("fallback-error"))).toBe(
      "This cannot be done as asked (Nowhere is not offered for this job)",
    );
  });

  it("goes when the server is back, hides on Escape, and comes back from a notification", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer() });
    backend.emit({ type: "fallback_closed", job: "spool-1" });
    expect(dialogRoot()).toBeNull();
    backend.emit({ type: "fallback_offered", offer: offer() });
    press(dialogRoot()!, "Escape");
    expect(dialogRoot()).toBeNull();
    backend.fallbackOffers.mockResolvedValue([offer()]);
    backend.navigateTo("fallback:spool-1");
    await flush();
    expect(dialogRoot()?.dataset.job).toBe("spool-1");
  });

  it("keeps the window inert while either dialog is open", async () => {
    const { backend } = await start();
    backend.emit({ type: "fallback_offered", offer: offer() });
    backend.emit({ type: "job_dialog", dialog: dialog() });
    await clickAndFlush(byTestId("dialog-later"));
    expect(document.getElementById("screen-job-dialog")).toBeNull();
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(true);
    press(dialogRoot()!, "Escape");
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(false);
  });

  it("is in French for a French user", async () => {
    const backend = fakeBackend();
    backend.desktopSettings.mockResolvedValue({ server: "https://x", language: "fr", remember_me: true });
    await start(backend);
    backend.emit({ type: "fallback_offered", offer: offer() });
    expect(text(document.getElementById("fallback-title"))).toBe("Imprimer sans le serveur ?");
    expect(text(document.getElementById("fallback-printers"))).toContain("Hall Prête · définie par votre administrateur");
  });
});

describe("offline jobs", () => {
  it("the dashboard says what may be printed while the server is away, where it is limited", async () => {
    const backend = fakeBackend({
      status: async () => status({ account: account({ offline_line: { pages: 50, amount_cents: 500 } }) }),
    });
    await start(backend);
    expect(text(byTestId("offline-line"))).toBe("While the server cannot be reached, you may print up to 50 pages and €5.00.");
    backend.emit({ type: "status", status: status({ revision: 99, account: account({ version: 11 }) }) });
    expect(maybeTestId("offline-line")).toBeNull();
  });

  it("the banner counts the offline records still to report, offline and online", async () => {
    const backend = fakeBackend({
      status: async () =>
        status({ connection: { state: "offline", since_ms: Date.now() - 60_000, reason: "x" }, offline_pending: 2 }),
    });
    await start(backend);
    expect(text(byTestId("offline-pending"))).toBe("2 jobs printed offline wait to be reported to the server.");
    backend.emit({ type: "status", status: status({ offline_pending: 1, revision: 99 }) });
    expect(document.getElementById("offline-banner")).toBeNull();
    expect(text(byTestId("offline-pending"))).toBe("1 job printed offline waits to be reported to the server.");
    backend.emit({ type: "status", status: status({ offline_pending: 0, revision: 100 }) });
    expect(maybeTestId("offline-pending")).toBeNull();
  });

  it("my jobs marks a job printed offline; printing and reporting are told", async () => {
    const backend = fakeBackend({ jobs: async () => [job({ id: "offline-x", state: "printed", offline: true })] });
    await start(backend);
    await clickAndFlush(byTestId("nav-jobs"));
    expect(text(byTestId("offline-offline-x"))).toBe("Printed offline");
    backend.emit({ type: "offline_printed", name: "report.pdf", printer: "Hall" });
    expect(text(document.getElementById("live"))).toContain("“report.pdf” was printed on Hall");
    backend.emit({ type: "offline_reported", reported: 2, refused: 1 });
    expect(text(document.getElementById("live"))).toContain("the server refused the record of 1");
  });
});
