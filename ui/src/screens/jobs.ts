//! "My jobs": the user's jobs grouped by what they wait for. Held jobs are released to a
//! printer of their queue, or deleted; refused and failed ones say why.

import type { App, Screen } from "../app";
import type { Job } from "../bindings/Job";
import type { JobState } from "../bindings/JobState";
import { h } from "../dom";
import { toBackendError } from "../errors";

type Group = "waiting" | "held" | "active" | "finished";

const GROUP_OF: Record<JobState, Group> = {
  waiting_for_user: "waiting",
  held: "held",
  printing: "active",
  printed: "finished",
  failed: "finished",
  rejected: "finished",
  deleted: "finished",
  expired: "finished",
};

export class JobsScreen implements Screen {
  /** The printer picked for each held job, by job id. */
  private printers = new Map<string, string>();
  private busy = new Set<string>();
  private errors = new Map<string, string>();

  constructor(private readonly app: App) {}

  onShow(): void {
    void this.app.loadJobs();
    void this.app.loadQueues();
  }

  private printersFor(job: Job): string[] {
    return this.app.queues.find((q) => q.name === job.queue)?.printers ?? [];
  }

  private chosenPrinter(job: Job): string | null {
    const printers = this.printersFor(job);
    const picked = this.printers.get(job.id);
    if (picked && printers.includes(picked)) return picked;
    if (job.printer && printers.includes(job.printer)) return job.printer;
    return printers[0] ?? null;
  }

  private async act(job: Job, action: "release" | "delete"): Promise<void> {
    const app = this.app;
    if (this.busy.has(job.id)) return;
    this.busy.add(job.id);
    this.errors.delete(job.id);
    app.renderMain();
    try {
      const updated =
        action === "release"
          ? await app.backend.releaseJob(job.id, this.chosenPrinter(job))
          : await app.backend.deleteJob(job.id);
      this.busy.delete(job.id);
      app.mergeJob(updated);
      app.announce(action === "release" ? app.t.jobReleased(job.name) : app.t.jobDeleted(job.name));
    } catch (e) {
      this.busy.delete(job.id);
      const text = app.errorText(toBackendError(e));
      this.errors.set(job.id, text);
      app.announce(text, "error");
      app.renderMain();
    }
    // Focus stays in the list: on the job's row if it is still there, else the heading.
    const row = document.querySelector<HTMLElement>(`[data-testid="job-${cssString(job.id)}"]`);
    if (!row || !row.contains(document.activeElement)) {
      (row?.querySelector<HTMLElement>("button") ?? document.getElementById("jobs-title"))?.focus();
    }
  }

  render(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const root = h(
      "section",
      { id: "screen-jobs", class: "screen", "aria-labelledby": "jobs-title" },
      h(
        "div",
        { class: "screen-header" },
        h("h1", { id: "jobs-title", tabindex: "-1" }, t.jobsTitle),
        h(
          "button",
          {
            type: "button",
            class: "button",
            testid: "jobs-refresh",
            on: {
              click: () => {
                void app.loadJobs().then(() => app.announce(app.t.jobsUpdated));
                void app.loadQueues();
              },
            },
          },
          t.refresh,
        ),
      ),
    );
    if (!app.jobsLoaded && app.jobs.length === 0) {
      root.append(h("p", { class: "muted" }, t.loading));
      return root;
    }
    if (app.jobs.length === 0) {
      root.append(h("p", { class: "muted", id: "jobs-empty" }, t.jobsEmpty));
      return root;
    }
    const titles: Record<Group, string> = {
      waiting: t.groupWaiting,
      held: t.groupHeld,
      active: t.groupActive,
      finished: t.groupFinished,
    };
    for (const group of ["waiting", "held", "active", "finished"] as const) {
      const jobs = app.jobs.filter((j) => GROUP_OF[j.state] === group);
      if (jobs.length === 0) continue;
      root.append(
        h(
          "section",
          { class: "job-group", id: `jobs-${group}`, "aria-labelledby": `jobs-${group}-title` },
          h("h2", { id: `jobs-${group}-title` }, titles[group], " ", h("span", { class: "count" }, `(${jobs.length})`)),
          h("ul", { class: "job-list" }, jobs.map((j) => this.renderJob(j))),
        ),
      );
    }
    return root;
  }

  private renderJob(job: Job): HTMLElement {
    const app = this.app;
    const t = app.t;
    const fmt = app.fmt;
    const busy = this.busy.has(job.id);
    // A job refused before the server counted it has no queue or pages to show.
    const counted = job.pages > 0;
    const meta = [
      job.queue ? `${t.labelQueue} ${job.queue}` : null,
      counted ? fmt.pages(job.pages) : null,
      counted && job.copies > 1 ? t.jobCopies(job.copies) : null,
      counted ? (job.colour ? t.colour : t.mono) : null,
      counted ? (job.duplex ? t.duplex : t.simplex) : null,
      job.media ? fmt.paper(job.media) : null,
    ]
      .filter(Boolean)
      .join(" · ");
    const error = this.errors.get(job.id);
    return h(
      "li",
      { class: "job", testid: `job-${job.id}`, "data-state": job.state, "aria-busy": busy ? "true" : false },
      h(
        "div",
        { class: "job-main" },
        h("p", { class: "doc-name" }, job.name),
        h("p", { class: "muted small" }, meta),
        h("p", { class: "small" }, fmt.money(job.price_cents, app.currency()), " · ", fmt.when(job.created_at_ms)),
        job.reason && (job.state === "failed" || job.state === "rejected")
          ? h("p", { class: "job-reason" }, t.jobReason(job.reason))
          : null,
        error ? h("p", { class: "form-error" }, error) : null,
      ),
      h(
        "div",
        { class: "job-side" },
        h("span", { class: ["state", `state-${job.state}`] }, t.jobStates[job.state]),
        job.offline ? h("span", { class: "tag", testid: `offline-${job.id}` }, t.jobOffline) : null,
        job.local ? h("span", { class: "tag", testid: `local-${job.id}`, title: t.jobLocalHint }, t.jobLocal) : null,
        this.renderActions(job, busy),
      ),
    );
  }

  private renderActions(job: Job, busy: boolean): HTMLElement | null {
    const app = this.app;
    const t = app.t;
    if (job.state === "waiting_for_user") {
      return h(
        "div",
        { class: "job-actions" },
        h(
          "button",
          {
            type: "button",
            class: "button primary",
            testid: `answer-${job.id}`,
            "aria-label": t.answerJob(job.name),
            on: { click: () => void app.dialogs.open(job.id) },
          },
          t.answer,
        ),
      );
    }
    if (job.state !== "held") return null;
    const printers = this.printersFor(job);
    const chosen = this.chosenPrinter(job);
    const selectId = `printer-select-${job.id}`;
    return h(
      "div",
      { class: "job-actions" },
      printers.length > 0
        ? h(
            "div",
            { class: "field field-inline" },
            h("label", { for: selectId }, t.printerFor(job.name)),
            h(
              "select",
              {
                id: selectId,
                testid: `printer-${job.id}`,
                disabled: busy,
                on: { change: (e) => this.printers.set(job.id, (e.target as HTMLSelectElement).value) },
              },
              printers.map((p) => h("option", { value: p, props: { selected: p === chosen } }, p)),
            ),
          )
        : null,
      h(
        "button",
        {
          type: "button",
          class: "button primary",
          id: `release-button-${job.id}`,
          testid: `release-${job.id}`,
          "aria-label": t.releaseJob(job.name),
          disabled: busy,
          on: { click: () => void this.act(job, "release") },
        },
        t.release,
      ),
      h(
        "button",
        {
          type: "button",
          class: "button danger",
          id: `delete-button-${job.id}`,
          testid: `delete-${job.id}`,
          "aria-label": t.deleteJob(job.name),
          disabled: busy,
          on: { click: () => void this.act(job, "delete") },
        },
        t.deleteLabel,
      ),
    );
  }
}

function cssString(s: string): string {
  return s.replace(/["\\]/g, "\\$&");
}
