import { describe, expect, it } from "vitest";
import type { JobAnswer } from "../src/bindings/JobAnswer";
import type { Question } from "../src/bindings/Question";
import {
  byTestId,
  check,
  choose,
  clickAndFlush,
  dialog,
  fakeBackend,
  flush,
  job,
  maybeTestId,
  press,
  start,
  submit,
  text,
  typeInto,
} from "./helpers";

function lastAnswer(backend: ReturnType<typeof fakeBackend>): JobAnswer {
  const call = backend.answerJob.mock.calls.at(-1);
  if (!call) throw new Error("answer_job was not called");
  return call[1];
}

function dialogRoot(): HTMLElement | null {
  return document.getElementById("screen-job-dialog");
}

describe("job dialog", () => {
  it("opens on a job_dialog event as a modal with the job's details and price", async () => {
    const { backend } = await start();
    const opener = byTestId("new-pin");
    opener.focus();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    const root = dialogRoot();
    expect(root?.getAttribute("role")).toBe("dialog");
    expect(root?.getAttribute("aria-modal")).toBe("true");
    expect(text(document.getElementById("job-dialog-title"))).toBe("Print “brochure.pdf”");
    expect(document.activeElement?.id).toBe("job-dialog-title");
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(true);
    expect(text(byTestId("dialog-price"))).toBe("€2.40");
    expect(text(byTestId("dialog-pages"))).toBe("12");
    expect(text(byTestId("dialog-colour"))).toBe("Colour");
    expect(text(byTestId("dialog-duplex"))).toBe("Two-sided");
    expect(text(byTestId("dialog-paper"))).toBe("A4");
  });

  it("shows what credit and quotas have left in the user's language", async () => {
    const backend = fakeBackend();
    backend.desktopSettings.mockResolvedValue({ server: "https://x", language: "fr", remember_me: true });
    await start(backend);
    backend.emit({ type: "job_dialog", dialog: dialog() });
    const options = text(dialogRoot());
    expect(options).toMatch(/Mon crédit 20,00\s€/);
    expect(options).toMatch(/Monthly pages: Restant 380\spages/);
    expect(options).not.toContain("20.00 EUR");
  });

  it("charges the only account without asking when there is no choice", async () => {
    const { backend } = await start();
    backend.emit({
      type: "job_dialog",
      dialog: dialog({
        choose_payment: false,
        payment_options: [{ kind: "credit", name: null, detail: "20.00 EUR", credit_cents: 2000, quotas: [] }],
        choose_project: false,
      }),
    });
    expect(maybeTestId("payment-search")).toBeNull();
    expect(maybeTestId("payment-option-0")).toBeNull();
    expect(text(document.getElementById("job-payment-auto"))).toBe("Charged to: My credit · €20.00");
    await submit(byTestId("dialog-print"));
    expect(backend.answerJob).toHaveBeenCalledWith("w1", {
      payment: { kind: "credit", name: null },
      project: null,
      accept: true,
      apply_to_all_waiting: false,
      answers: {},
    });
    expect(dialogRoot()).toBeNull();
  });

  it("lets the user choose the account (recently used first) and the project, searchable", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    // The first option (most recently used) is preselected.
    expect(byTestId<HTMLInputElement>("payment-option-0").checked).toBe(true);
    const labels = [...document.querySelectorAll("#job-payment .choice-list label")].map((l) => text(l));
    expect(labels).toEqual(["Marketing Cost centre · shared", "My credit €20.00", "My quota Monthly pages: Remaining 380 pages"]);

    typeInto(byTestId("payment-search"), "quo");
    expect(maybeTestId("payment-option-0")).toBeNull();
    expect(maybeTestId("payment-option-1")).toBeNull();
    expect(document.activeElement).toBe(byTestId("payment-search"));
    byTestId("payment-option-2").click();

    typeInto(byTestId("project-search"), "web");
    expect(maybeTestId("project-option-Brochure 2026")).toBeNull();
    byTestId("project-option-Website").click();

    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend)).toEqual({
      payment: { kind: "quota", name: null },
      project: "Website",
      accept: true,
      apply_to_all_waiting: false,
      answers: {},
    });
  });

  it("sends a cost centre by name", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog({ choose_project: false }) });
    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend).payment).toEqual({ kind: "cost_centre", name: "Marketing" });
  });

  it("requires a project when one must be chosen", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    await submit(byTestId("dialog-print"));
    expect(backend.answerJob).not.toHaveBeenCalled();
    expect(text(document.getElementById("job-project-error"))).toBe("Choose a project.");
    expect(document.activeElement).toBe(byTestId("project-search"));
  });

  const questions: Question[] = [
    { id: "yn", kind: "yes_no", text: "Long document: print anyway?", choices: [] },
    { id: "pn", kind: "print_no", text: "Print in colour?", choices: [] },
    { id: "ync", kind: "yes_no_cancel", text: "Staple?", choices: [] },
    { id: "why", kind: "text", text: "Why?", choices: [] },
    { id: "n", kind: "number", text: "How many sets?", choices: [] },
    { id: "mode", kind: "choice", text: "Mode", choices: ["mono", "colour"] },
    { id: "ok", kind: "checkbox", text: "I agree", choices: [] },
  ];

  it("renders each question kind and sends the answer strings the scripts expect", async () => {
    const { backend } = await start();
    backend.emit({
      type: "job_dialog",
      dialog: dialog({ choose_payment: false, payment_options: [], choose_project: false, confirm: false, questions }),
    });
    // Radio kinds: a fieldset with one radio per answer.
    expect(byTestId("question-yn").tagName).toBe("FIELDSET");
    expect(text(byTestId("question-yn").querySelector("legend"))).toBe("Long document: print anyway?");
    expect([...byTestId("question-ync").querySelectorAll("input")].map((i) => i.value)).toEqual(["yes", "no", "cancel"]);
    expect(text(byTestId("question-pn"))).toContain("Print");
    expect(byTestId("question-n").getAttribute("type")).toBe("number");
    expect([...byTestId<HTMLSelectElement>("question-mode").options].map((o) => o.value)).toEqual(["", "mono", "colour"]);

    byTestId("question-yn-no").click();
    byTestId("question-pn-print").click();
    byTestId("question-ync-cancel").click();
    typeInto(byTestId("question-why"), "for the board");
    typeInto(byTestId("question-n"), "3");
    choose(byTestId("question-mode"), "colour");
    check(byTestId("question-ok"));
    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend)).toEqual({
      payment: null,
      project: null,
      accept: true,
      apply_to_all_waiting: false,
      answers: { yn: "no", pn: "print", ync: "cancel", why: "for the board", n: "3", mode: "colour", ok: "true" },
    });
  });

  it("sends an unticked checkbox as false and an empty text as empty", async () => {
    const { backend } = await start();
    backend.emit({
      type: "job_dialog",
      dialog: dialog({
        choose_payment: false,
        payment_options: [],
        choose_project: false,
        questions: [questions[3] as Question, questions[6] as Question],
      }),
    });
    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend).answers).toEqual({ why: "", ok: "false" });
  });

  it("keeps the dialog open and points at unanswered questions", async () => {
    const { backend } = await start();
    backend.emit({
      type: "job_dialog",
      dialog: dialog({ choose_payment: false, payment_options: [], choose_project: false, questions }),
    });
    typeInto(byTestId("question-why"), "kept");
    await submit(byTestId("dialog-print"));
    expect(backend.answerJob).not.toHaveBeenCalled();
    expect(text(document.getElementById("job-question-yn-error"))).toBe("Answer this question.");
    expect(text(document.getElementById("job-question-n-error"))).toBe("Enter a number.");
    expect(document.activeElement).toBe(byTestId("question-yn-yes"));
    expect(byTestId<HTMLInputElement>("question-why").value).toBe("kept");
  });

  it("applies the answer to all waiting jobs when asked", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog({ choose_project: false }) });
    check(byTestId("apply-all"));
    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend).apply_to_all_waiting).toBe(true);
  });

  it("shows the script's follow-up questions when the job still waits", async () => {
    const follow = dialog({
      choose_payment: false,
      payment_options: [],
      choose_project: false,
      questions: [{ id: "mode", kind: "choice", text: "Which mode?", choices: ["mono", "colour"] }],
    });
    const backend = fakeBackend({
      answerJob: async (id) => job({ id, state: "waiting_for_user" }),
      jobDialog: async () => follow,
    });
    await start(backend);
    backend.emit({
      type: "job_dialog",
      dialog: dialog({
        choose_payment: false,
        payment_options: [],
        choose_project: false,
        questions: [{ id: "long", kind: "yes_no", text: "Print anyway?", choices: [] }],
      }),
    });
    byTestId("question-long-yes").click();
    await submit(byTestId("dialog-print"));
    expect(backend.answerJob).toHaveBeenCalledTimes(1);
    expect(backend.jobDialog).toHaveBeenCalledWith("w1");
    expect(dialogRoot()).not.toBeNull();
    expect(maybeTestId("question-long")).toBeNull();
    expect(text(document.querySelector('label[for="job-question-mode"]'))).toBe("Which mode?");
    expect(document.activeElement?.id).toBe("job-dialog-title");

    backend.answerJob.mockResolvedValue(job({ id: "w1", state: "printing" }));
    choose(byTestId("question-mode"), "mono");
    await submit(byTestId("dialog-print"));
    expect(lastAnswer(backend).answers).toEqual({ mode: "mono" });
    expect(dialogRoot()).toBeNull();
  });

  it("cancels the job with accept: false", async () => {
    const { backend } = await start();
    backend.answerJob.mockResolvedValue(job({ id: "w1", name: "brochure.pdf", state: "deleted" }));
    backend.emit({ type: "job_dialog", dialog: dialog() });
    await clickAndFlush(byTestId("dialog-cancel"));
    expect(lastAnswer(backend)).toEqual({
      payment: null,
      project: null,
      accept: false,
      apply_to_all_waiting: false,
      answers: {},
    });
    expect(dialogRoot()).toBeNull();
    expect(text(document.querySelector("#live p"))).toBe("“brochure.pdf” was cancelled.");
  });

  it("hides on Escape without answering, and gives focus back", async () => {
    const { backend } = await start();
    const opener = byTestId("new-pin");
    opener.focus();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    press(document.activeElement ?? document.body, "Escape");
    await flush();
    expect(dialogRoot()).toBeNull();
    expect(backend.answerJob).not.toHaveBeenCalled();
    expect(document.getElementById("shell")?.hasAttribute("inert")).toBe(false);
    expect(document.activeElement).toBe(byTestId("new-pin"));
  });

  it("keeps Tab inside the dialog", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    const later = byTestId("dialog-later");
    later.focus();
    press(later, "Tab");
    expect(document.activeElement).toBe(byTestId("payment-search"));
    press(byTestId("payment-search"), "Tab", { shiftKey: true });
    expect(document.activeElement).toBe(later);
  });

  it("shows several waiting dialogs one at a time", async () => {
    const { backend } = await start();
    const second = dialog({ job: job({ id: "w2", name: "second.pdf", state: "waiting_for_user" }), choose_project: false });
    backend.emit({ type: "job_dialog", dialog: dialog({ choose_project: false }) });
    backend.emit({ type: "job_dialog", dialog: second });
    expect(document.querySelectorAll('[role="dialog"]').length).toBe(1);
    expect(text(document.getElementById("job-dialog-title"))).toBe("Print “brochure.pdf”");
    expect(text(document.getElementById("job-dialog-more"))).toBe("1 more job waits after this one.");
    await submit(byTestId("dialog-print"));
    expect(text(document.getElementById("job-dialog-title"))).toBe("Print “second.pdf”");
    expect(document.activeElement?.id).toBe("job-dialog-title");
    await submit(byTestId("dialog-print"));
    expect(backend.answerJob.mock.calls.map((c) => c[0])).toEqual(["w1", "w2"]);
    expect(dialogRoot()).toBeNull();
  });

  it("keeps the choices and shows the error when the server refuses", async () => {
    const { backend } = await start();
    backend.answerJob.mockRejectedValue({ code: "CREDIT_INSUFFICIENT", message: "not enough credit" });
    backend.emit({ type: "job_dialog", dialog: dialog() });
    byTestId("payment-option-1").click();
    byTestId("project-option-Website").click();
    await submit(byTestId("dialog-print"));
    expect(text(document.getElementById("job-dialog-error"))).toBe("Your credit is too low for this job.");
    expect(byTestId<HTMLInputElement>("payment-option-1").checked).toBe(true);
    expect(byTestId<HTMLInputElement>("project-option-Website").checked).toBe(true);
  });

  it("opens from the tray with job:<id>", async () => {
    const { backend } = await start();
    backend.navigateTo("job:w1");
    await flush();
    expect(backend.jobDialog).toHaveBeenCalledWith("w1");
    expect(dialogRoot()).not.toBeNull();
  });

  it("opens in a window made for it (the desktop opens its window at ?open=job:<id>)", async () => {
    const { backend } = await start(fakeBackend(), { openAt: "job:w1" });
    expect(backend.jobDialog).toHaveBeenCalledWith("w1");
    expect(dialogRoot()).not.toBeNull();
  });

  it("closes when the job was answered elsewhere", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    backend.emit({ type: "job_changed", job: job({ id: "w1", state: "held" }) });
    expect(dialogRoot()).toBeNull();
  });
});

describe("job dialog keyboard", () => {
  it("hides on Escape even when focus is outside the dialog", async () => {
    const { backend } = await start();
    backend.emit({ type: "job_dialog", dialog: dialog() });
    (document.activeElement as HTMLElement | null)?.blur();
    press(document.body, "Escape");
    expect(dialogRoot()).toBeNull();
    expect(backend.answerJob).not.toHaveBeenCalled();
  });
});
