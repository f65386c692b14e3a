import { describe, expect, it } from "vitest";
import {
  NOW,
  byTestId,
  choose,
  clickAndFlush,
  fakeBackend,
  flush,
  job,
  maybeTestId,
  start,
  text,
} from "./helpers";

const JOBS = [
  job({ id: "h1", name: "report.pdf", state: "held", queue: "Secure", created_at_ms: NOW - 1000 }),
  job({ id: "w1", name: "brochure.pdf", state: "waiting_for_user", queue: "Projects", created_at_ms: NOW }),
  job({ id: "r1", name: "huge.pdf", state: "rejected", reason: "too many pages for your quota", created_at_ms: NOW - 5000 }),
  job({ id: "p1", name: "memo.pdf", state: "printed", created_at_ms: NOW - 9000 }),
];

async function openJobs(over: Parameters<typeof fakeBackend>[0] = {}) {
  const ctx = await start(fakeBackend({ jobs: async () => JOBS, ...over }));
  await clickAndFlush(byTestId("nav-jobs"));
  return ctx;
}

describe("my jobs", () => {
  it("is where a window opened at ?open=jobs starts, once the state is loaded", async () => {
    await start(fakeBackend({ jobs: async () => JOBS }), { openAt: "jobs" });
    expect(document.getElementById("screen-jobs")).not.toBeNull();
    expect(document.getElementById("screen-dashboard")).toBeNull();
  });

  it("groups waiting, held and finished jobs, and says why a job was refused", async () => {
    await openJobs();
    expect(document.getElementById("screen-jobs")).not.toBeNull();
    expect(document.activeElement).toBe(document.querySelector("#screen-jobs h1"));
    const groups = [...document.querySelectorAll(".job-group h2")].map((g) => text(g));
    expect(groups).toEqual(["Waiting for your answer (1)", "Held: ready to release (1)", "Finished (2)"]);
    expect(text(byTestId("job-r1"))).toContain("Reason: too many pages for your quota");
    expect(text(byTestId("job-r1"))).toContain("Rejected");
    expect(text(byTestId("job-h1"))).toContain("12 pages");
    expect(text(byTestId("job-h1"))).toContain("Two-sided");
    expect(text(byTestId("job-h1"))).toContain("€0.48");
    // Only held jobs can be released or deleted.
    expect(maybeTestId("release-p1")).toBeNull();
    expect(maybeTestId("delete-r1")).toBeNull();
  });

  it("shows a document refused before the server counted it without queue or pages", async () => {
    const refused = job({
      id: "refused-1-0",
      name: "Payslip.pdf",
      state: "rejected",
      queue: "",
      pages: 0,
      reason: "the PDF is password-protected [DOCUMENT_INVALID]",
      created_at_ms: NOW,
    });
    await openJobs({ jobs: async () => [refused] });
    const row = text(byTestId("job-refused-1-0"));
    expect(row).toContain("Reason: the PDF is password-protected");
    expect(row).not.toContain("0 pages");
    expect(row).not.toContain("Queue");
  });

  it("releases a held job to the chosen printer of its queue", async () => {
    const { backend } = await openJobs();
    const select = byTestId<HTMLSelectElement>("printer-h1");
    expect([...select.options].map((o) => o.value)).toEqual(["Floor 2 MFP", "Floor 3 Colour"]);
    expect(select.value).toBe("Floor 2 MFP");
    expect(text(document.querySelector(`label[for="${select.id}"]`))).toBe("Printer for report.pdf");
    choose(select, "Floor 3 Colour");
    await clickAndFlush(byTestId("release-h1"));
    expect(backend.releaseJob).toHaveBeenCalledWith("h1", "Floor 3 Colour");
    expect(byTestId("job-h1").dataset.state).toBe("printing");
    expect(maybeTestId("release-h1")).toBeNull();
    expect(text(document.querySelector("#live p"))).toBe("“report.pdf” was sent to the printer.");
  });

  it("releases to the queue's first printer by default", async () => {
    const { backend } = await openJobs();
    await clickAndFlush(byTestId("release-h1"));
    expect(backend.releaseJob).toHaveBeenCalledWith("h1", "Floor 2 MFP");
  });

  it("deletes a held job", async () => {
    const { backend } = await openJobs();
    await clickAndFlush(byTestId("delete-h1"));
    expect(backend.deleteJob).toHaveBeenCalledWith("h1");
    expect(byTestId("job-h1").dataset.state).toBe("deleted");
    expect(text(byTestId("job-h1"))).toContain("Deleted");
  });

  it("shows a refused release next to the job", async () => {
    await openJobs({ releaseJob: async () => Promise.reject({ code: "CONFLICT", message: "changed" }) });
    await clickAndFlush(byTestId("release-h1"));
    expect(text(byTestId("job-h1"))).toContain("It was changed in the meantime. Refresh and try again.");
    expect(byTestId("job-h1").dataset.state).toBe("held");
  });

  it("refreshes on job_submitted and job_changed events", async () => {
    const { backend } = await openJobs();
    backend.emit({ type: "job_submitted", job: job({ id: "n1", name: "new.pdf", state: "held", created_at_ms: NOW + 1000 }) });
    expect(maybeTestId("job-n1")).not.toBeNull();
    backend.emit({ type: "job_changed", job: job({ id: "h1", name: "report.pdf", state: "failed", reason: "printer offline" }) });
    expect(byTestId("job-h1").dataset.state).toBe("failed");
    expect(text(byTestId("job-h1"))).toContain("Reason: printer offline");
    expect(text(document.querySelector("#live p"))).toBe("“report.pdf” could not be printed: printer offline");
  });

  it("answers a waiting job through its dialog", async () => {
    const { backend } = await openJobs();
    await clickAndFlush(byTestId("answer-w1"));
    expect(backend.jobDialog).toHaveBeenCalledWith("w1");
    expect(document.getElementById("screen-job-dialog")).not.toBeNull();
  });

  it("announces a refused job, in the user's language when its code is known", async () => {
    const { backend } = await openJobs();
    backend.emit({ type: "job_refused", name: "scan.pdf", reason: "odd failure", code: "SOMETHING_NEW" });
    await flush();
    expect(text(document.querySelector("#live p"))).toBe("“scan.pdf” was refused: odd failure");
    backend.emit({ type: "job_refused", name: "big.pdf", reason: "the job costs 5120 cents", code: "CREDIT_INSUFFICIENT" });
    await flush();
    const said = text(document.querySelector("#live p"));
    expect(said.startsWith("“big.pdf” was refused: ")).toBe(true);
    expect(said).not.toContain("5120 cents");
  });

  it("marks a job of one of the computer's own printers as local, in both languages", async () => {
    const local = job({ id: "l1", name: "usb.pdf", queue: "Usb@desk", state: "printed", local: true });
    await openJobs({ jobs: async () => [local, job({ id: "h2" })] });
    expect(text(byTestId("local-l1"))).toBe("Local printer");
    expect(text(byTestId("job-l1"))).toContain("Usb@desk");
    expect(maybeTestId("local-h2")).toBeNull();
  });
});
