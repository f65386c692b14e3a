//! The job dialog: what the server wants the user to decide about a job (payment account,
//! project, a script's questions, confirmation of the cost), one job at a time. Dialogs
//! arriving meanwhile wait in a queue. A script may answer with more questions: the job
//! then still waits, and the dialog is fetched again with them.
//!
//! Escape (or "Decide later") only hides the dialog: the job keeps waiting and can be
//! answered from "My jobs".

import type { App } from "../app";
import type { JobAnswer } from "../bindings/JobAnswer";
import type { JobDialog } from "../bindings/JobDialog";
import type { PaymentChoice } from "../bindings/PaymentChoice";
import type { PaymentOption } from "../bindings/PaymentOption";
import type { Question } from "../bindings/Question";
import { dialogKeys, focusables, h, ModalLayer, type Child } from "../dom";
import { toBackendError } from "../errors";
import type { Messages } from "../i18n";

interface Entry {
  dialog: JobDialog;
  paymentIndex: number | null;
  paymentSearch: string;
  project: string | null;
  projectSearch: string;
  answers: Record<string, string>;
  applyAll: boolean;
  busy: boolean;
  error: string | null;
  /** What is missing: "payment", "project" or question ids. */
  invalid: Set<string>;
}

/** The answer strings the server's scripts expect, by question kind. */
export const CHOICE_ANSWERS = {
  yes_no: ["yes", "no"],
  print_no: ["print", "no"],
  yes_no_cancel: ["yes", "no", "cancel"],
} as const;

type ChoiceKind = keyof typeof CHOICE_ANSWERS;

function isChoiceKind(kind: Question["kind"]): kind is ChoiceKind {
  return kind in CHOICE_ANSWERS;
}

function answerLabel(t: Messages, value: string): string {
  switch (value) {
    case "yes":
      return t.answerYes;
    case "no":
      return t.answerNo;
    case "print":
      return t.answerPrint;
    case "cancel":
      return t.answerCancel;
    default:
      return value;
  }
}

/** Case- and accent-insensitive search. */
function matches(haystack: string, needle: string): boolean {
  const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  return fold(haystack).includes(fold(needle.trim()));
}

export class JobDialogController {
  private queue: Entry[] = [];
  private readonly modal: ModalLayer;

  constructor(
    private readonly app: App,
    private readonly layer: HTMLElement,
    background: HTMLElement,
  ) {
    this.modal = new ModalLayer(layer, background, () => app.focusHeading());
    // Escape hides the dialog even when focus has left it (a click on the backdrop).
    layer.ownerDocument.addEventListener("keydown", this.onDocumentKey);
  }

  private readonly onDocumentKey = (e: KeyboardEvent): void => {
    if (e.key === "Escape" && !e.defaultPrevented && this.queue.length > 0) {
      e.preventDefault();
      this.later();
    }
  };

  dispose(): void {
    this.layer.ownerDocument.removeEventListener("keydown", this.onDocumentKey);
  }

  get size(): number {
    return this.queue.length;
  }

  /** Adds (or refreshes) a job's dialog; the first in the queue is shown. */
  enqueue(dialog: JobDialog): void {
    const existing = this.queue.find((e) => e.dialog.job.id === dialog.job.id);
    if (existing) {
      existing.dialog = dialog;
      existing.busy = false;
      existing.error = null;
      existing.invalid.clear();
      existing.paymentIndex = this.defaultPayment(dialog, existing.paymentIndex);
      if (existing.project !== null && !dialog.projects.some((p) => p.name === existing.project)) existing.project = null;
    } else {
      this.queue.push({
        dialog,
        paymentIndex: this.defaultPayment(dialog, null),
        paymentSearch: "",
        project: dialog.choose_project && dialog.projects.length === 1 ? (dialog.projects[0]?.name ?? null) : null,
        projectSearch: "",
        answers: {},
        applyAll: false,
        busy: false,
        error: null,
        invalid: new Set(),
      });
    }
    this.render();
  }

  private defaultPayment(dialog: JobDialog, previous: number | null): number | null {
    if (dialog.payment_options.length === 0) return null;
    if (previous !== null && previous < dialog.payment_options.length) return previous;
    // The server lists the recently used account first.
    return 0;
  }

  /** Fetches a job's dialog and shows it (from My jobs, the tray, or a follow-up). */
  async open(id: string): Promise<void> {
    try {
      this.enqueue(await this.app.backend.jobDialog(id));
    } catch (e) {
      this.app.announceError(toBackendError(e));
    }
  }

  /** Forgets a job's dialog (the job no longer waits). */
  drop(id: string): void {
    const before = this.queue.length;
    this.queue = this.queue.filter((e) => e.dialog.job.id !== id);
    if (this.queue.length !== before) this.render();
  }

  clear(): void {
    if (this.queue.length === 0) return;
    this.queue = [];
    this.render();
  }

  /** Hides the current dialog without answering: the job keeps waiting. */
  later(): void {
    this.queue.shift();
    this.render();
  }

  private current(): Entry | undefined {
    return this.queue[0];
  }

  private rerender(): void {
    this.render();
  }

  // ---- answering --------------------------------------------------------------------

  private payment(entry: Entry): PaymentChoice | null {
    const options = entry.dialog.payment_options;
    const pick = (o: PaymentOption | undefined): PaymentChoice | null => (o ? { kind: o.kind, name: o.name } : null);
    if (entry.dialog.choose_payment) return entry.paymentIndex === null ? null : pick(options[entry.paymentIndex]);
    return options.length === 1 ? pick(options[0]) : null;
  }

  /** The answer to send, or the set of what is missing. */
  buildAnswer(entry: Entry): JobAnswer | Set<string> {
    const d = entry.dialog;
    const missing = new Set<string>();
    const payment = this.payment(entry);
    if (d.choose_payment && payment === null) missing.add("payment");
    if (d.choose_project && entry.project === null) missing.add("project");
    const answers: Record<string, string> = {};
    for (const q of d.questions) {
      const given = entry.answers[q.id];
      switch (q.kind) {
        case "text":
          answers[q.id] = given ?? "";
          break;
        case "checkbox":
          answers[q.id] = given === "true" ? "true" : "false";
          break;
        case "number":
          if (given === undefined || given.trim() === "" || !Number.isFinite(Number(given))) missing.add(q.id);
          else answers[q.id] = given.trim();
          break;
        default:
          if (given === undefined || given === "") missing.add(q.id);
          else answers[q.id] = given;
      }
    }
    if (missing.size > 0) return missing;
    return {
      payment,
      project: d.choose_project ? entry.project : null,
      accept: true,
      apply_to_all_waiting: entry.applyAll,
      answers,
    };
  }

  private async send(entry: Entry, accept: boolean): Promise<void> {
    const app = this.app;
    if (entry.busy) return;
    let answer: JobAnswer;
    if (accept) {
      const built = this.buildAnswer(entry);
      if (built instanceof Set) {
        entry.invalid = built;
        entry.error = app.t.dialogFixErrors;
        this.rerender();
        this.focusFirstInvalid(entry);
        app.announce(app.t.dialogFixErrors, "error");
        return;
      }
      answer = built;
    } else {
      answer = { payment: null, project: null, accept: false, apply_to_all_waiting: entry.applyAll, answers: {} };
    }
    entry.busy = true;
    entry.error = null;
    entry.invalid.clear();
    this.rerender();
    const job = entry.dialog.job;
    try {
      const result = await app.backend.answerJob(job.id, answer);
      entry.busy = false;
      if (result.state === "waiting_for_user") {
        // The script has more to ask: show its next questions in place.
        const next = await app.backend.jobDialog(job.id);
        entry.answers = {};
        this.enqueue(next);
        this.focusTitle();
        return;
      }
      this.queue = this.queue.filter((e) => e !== entry);
      app.mergeJob(result);
      if (!accept) app.announce(app.t.jobCancelled(job.name));
      else if (result.state === "held") app.announce(app.t.jobHeld(job.name));
      else if (result.state === "rejected" || result.state === "failed")
        app.announce(app.t.jobRefused(job.name, result.reason ?? ""), "error");
      else app.announce(app.t.jobAccepted(job.name));
      this.render();
    } catch (e) {
      entry.busy = false;
      entry.error = app.errorText(toBackendError(e));
      this.rerender();
      app.announce(entry.error, "error");
    }
  }

  private focusFirstInvalid(entry: Entry): void {
    const first = [...entry.invalid][0];
    if (!first) return;
    const id = first === "payment" ? "job-payment" : first === "project" ? "job-project" : questionId(first);
    const box = document.getElementById(id);
    const target = box?.matches("input, select, textarea") ? box : box ? focusables(box)[0] : null;
    (target ?? box)?.focus();
  }

  private focusTitle(): void {
    document.getElementById("job-dialog-title")?.focus();
  }

  // ---- rendering --------------------------------------------------------------------

  render(): void {
    const entry = this.current();
    if (!entry) return this.modal.close();
    if (this.modal.show(entry.dialog.job.id, this.renderDialog(entry))) this.focusTitle();
  }

  private renderDialog(entry: Entry): HTMLElement {
    const app = this.app;
    const t = app.t;
    const d = entry.dialog;
    const job = d.job;
    const more = this.queue.length - 1;

    const onKeydown = dialogKeys(() => this.later());

    return h(
      "div",
      {
        id: "screen-job-dialog",
        class: "dialog",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "job-dialog-title",
        "aria-describedby": "job-dialog-intro",
        "data-job": job.id,
        on: { keydown: onKeydown },
      },
      h(
        "form",
        {
          class: "form",
          novalidate: true,
          "aria-busy": entry.busy ? "true" : false,
          on: {
            submit: (e) => {
              e.preventDefault();
              void this.send(entry, true);
            },
          },
        },
        h("h2", { id: "job-dialog-title", tabindex: "-1" }, t.dialogTitle(job.name)),
        h("p", { id: "job-dialog-intro", class: "muted" }, t.dialogIntro(job.queue)),
        more > 0 ? h("p", { class: "small", id: "job-dialog-more" }, t.dialogMore(more)) : null,
        d.notices.length > 0
          ? h(
              "div",
              { class: "notice", id: "job-notices" },
              h("p", { class: "notice-title" }, t.noticesLabel),
              h("ul", {}, d.notices.map((n) => h("li", {}, n))),
            )
          : null,
        this.renderPayment(entry),
        this.renderProject(entry),
        d.questions.map((q) => this.renderQuestion(entry, q)),
        d.confirm ? this.renderSummary(entry) : null,
        h(
          "div",
          { class: "field-check" },
          h("input", {
            type: "checkbox",
            id: "job-apply-all",
            testid: "apply-all",
            props: { checked: entry.applyAll },
            on: { change: (e) => (entry.applyAll = (e.target as HTMLInputElement).checked) },
          }),
          h("label", { for: "job-apply-all" }, t.applyAll),
        ),
        entry.error ? h("p", { class: "form-error", id: "job-dialog-error" }, entry.error) : null,
        h(
          "div",
          { class: "actions" },
          h(
            "button",
            { type: "submit", class: "button primary", id: "job-dialog-print", testid: "dialog-print", disabled: entry.busy },
            entry.busy ? t.dialogBusy : t.print,
          ),
          h(
            "button",
            {
              type: "button",
              class: "button danger",
              id: "job-dialog-cancel",
              testid: "dialog-cancel",
              disabled: entry.busy,
              on: { click: () => void this.send(entry, false) },
            },
            t.cancelJob,
          ),
          h(
            "button",
            { type: "button", class: "button", id: "job-dialog-later", testid: "dialog-later", on: { click: () => this.later() } },
            t.decideLater,
          ),
        ),
      ),
    );
  }

  private paymentLabel(o: PaymentOption): { main: string; detail: string } {
    const t = this.app.t;
    if (o.kind === "cost_centre") {
      return { main: o.name ?? t.paymentKinds.cost_centre, detail: [t.paymentKinds.cost_centre, o.detail].filter(Boolean).join(" · ") };
    }
    // Credit and quotas come with their figures, formatted here in the user's language.
    const app = this.app;
    if (o.kind === "credit" && o.credit_cents !== null) {
      return { main: t.paymentKinds.credit, detail: app.fmt.money(o.credit_cents, app.currency()) };
    }
    if (o.kind === "quota" && o.quotas.length > 0) {
      const left = o.quotas.map((q) => `${q.name}: ${t.quotaRemaining} ${app.fmt.quotaAmount(q, q.remaining, app.currency())}`);
      return { main: t.paymentKinds.quota, detail: left.join(" · ") };
    }
    return { main: t.paymentKinds[o.kind], detail: o.detail };
  }

  private renderPayment(entry: Entry): Child {
    const t = this.app.t;
    const d = entry.dialog;
    if (!d.choose_payment) {
      const only = d.payment_options.length === 1 ? d.payment_options[0] : undefined;
      if (!only) return null;
      const l = this.paymentLabel(only);
      return h("p", { class: "small", id: "job-payment-auto" }, t.paymentAuto([l.main, l.detail].filter(Boolean).join(" · ")));
    }
    const shown = d.payment_options
      .map((o, index) => ({ o, index, label: this.paymentLabel(o) }))
      .filter(({ label, o }) => entry.paymentSearch === "" || matches(`${label.main} ${label.detail} ${o.name ?? ""}`, entry.paymentSearch));
    return this.choiceGroup({
      id: "job-payment",
      legend: t.paymentLegend,
      searchId: "job-payment-search",
      searchTestid: "payment-search",
      searchLabel: t.paymentSearch,
      search: entry.paymentSearch,
      setSearch: (v) => (entry.paymentSearch = v),
      invalid: entry.invalid.has("payment") ? t.dialogChoosePayment : null,
      empty: t.paymentNoMatch,
      radioName: "job-payment-choice",
      items: shown.map(({ index, label }) => ({
        id: `job-payment-${index}`,
        testid: `payment-option-${index}`,
        value: String(index),
        main: label.main,
        detail: label.detail,
        checked: entry.paymentIndex === index,
        select: () => (entry.paymentIndex = index),
      })),
    });
  }

  private renderProject(entry: Entry): Child {
    const t = this.app.t;
    const d = entry.dialog;
    if (!d.choose_project) return null;
    const shown = d.projects.filter(
      (p) => entry.projectSearch === "" || matches(`${p.name} ${p.description}`, entry.projectSearch),
    );
    return this.choiceGroup({
      id: "job-project",
      legend: t.projectLegend,
      searchId: "job-project-search",
      searchTestid: "project-search",
      searchLabel: t.projectSearch,
      search: entry.projectSearch,
      setSearch: (v) => (entry.projectSearch = v),
      invalid: entry.invalid.has("project") ? t.dialogChooseProject : null,
      empty: t.projectNoMatch,
      radioName: "job-project-choice",
      items: shown.map((p) => ({
        id: `job-project-${p.id}`,
        testid: `project-option-${p.name}`,
        value: p.name,
        main: p.name,
        detail: p.description,
        checked: entry.project === p.name,
        select: () => (entry.project = p.name),
      })),
    });
  }

  /** A searchable radio list (payment accounts, projects). The search filters as one
   *  types; the list is re-rendered with the caret kept in the search field. */
  private choiceGroup(g: {
    id: string;
    legend: string;
    searchId: string;
    searchTestid: string;
    searchLabel: string;
    search: string;
    setSearch: (v: string) => void;
    invalid: string | null;
    empty: string;
    radioName: string;
    items: { id: string; testid: string; value: string; main: string; detail: string; checked: boolean; select: () => void }[];
  }): HTMLElement {
    const errorId = `${g.id}-error`;
    return h(
      "fieldset",
      { class: "choices", id: g.id, "aria-describedby": g.invalid ? errorId : false },
      h("legend", {}, g.legend),
      h(
        "div",
        { class: "field" },
        h("label", { for: g.searchId, class: "small" }, g.searchLabel),
        h("input", {
          type: "search",
          id: g.searchId,
          testid: g.searchTestid,
          autocomplete: "off",
          props: { value: g.search },
          on: {
            input: (e) => {
              g.setSearch((e.target as HTMLInputElement).value);
              this.rerender();
            },
            // Enter in the search field must not print the job by accident.
            keydown: (e) => {
              if (e.key === "Enter") e.preventDefault();
            },
          },
        }),
      ),
      g.invalid ? h("p", { class: "form-error", id: errorId }, g.invalid) : null,
      g.items.length === 0
        ? h("p", { class: "muted small" }, g.empty)
        : h(
            "ul",
            { class: "choice-list" },
            g.items.map((item) =>
              h(
                "li",
                {},
                h("input", {
                  type: "radio",
                  name: g.radioName,
                  id: item.id,
                  value: item.value,
                  testid: item.testid,
                  props: { checked: item.checked },
                  on: { change: item.select },
                }),
                h(
                  "label",
                  { for: item.id },
                  h("span", { class: "choice-main" }, item.main),
                  item.detail ? [" ", h("span", { class: "choice-detail" }, item.detail)] : null,
                ),
              ),
            ),
          ),
    );
  }

  private renderQuestion(entry: Entry, q: Question): HTMLElement {
    const t = this.app.t;
    const id = questionId(q.id);
    const errorId = `${id}-error`;
    const invalid = entry.invalid.has(q.id);
    const set = (v: string) => {
      entry.answers[q.id] = v;
      if (entry.invalid.delete(q.id)) this.rerender();
    };
    const error = invalid
      ? h("p", { class: "form-error", id: errorId }, q.kind === "number" ? t.dialogEnterNumber : t.dialogAnswerQuestion)
      : null;

    if (isChoiceKind(q.kind)) {
      const name = `${id}-radio`;
      return h(
        "fieldset",
        { class: "choices question", id, testid: `question-${q.id}`, "aria-describedby": invalid ? errorId : false },
        h("legend", {}, q.text),
        error,
        h(
          "div",
          { class: "radio-row" },
          CHOICE_ANSWERS[q.kind].map((value) =>
            h(
              "span",
              { class: "radio" },
              h("input", {
                type: "radio",
                name,
                id: `${id}-${value}`,
                value,
                testid: `question-${q.id}-${value}`,
                props: { checked: entry.answers[q.id] === value },
                on: { change: () => set(value) },
              }),
              h("label", { for: `${id}-${value}` }, answerLabel(t, value)),
            ),
          ),
        ),
      );
    }

    const describedBy = invalid ? errorId : false;
    switch (q.kind) {
      case "checkbox":
        return h(
          "div",
          { class: "field-check question" },
          h("input", {
            type: "checkbox",
            id,
            testid: `question-${q.id}`,
            props: { checked: entry.answers[q.id] === "true" },
            on: { change: (e) => set((e.target as HTMLInputElement).checked ? "true" : "false") },
          }),
          h("label", { for: id }, q.text),
        );
      case "choice":
        return h(
          "div",
          { class: "field question" },
          h("label", { for: id }, q.text),
          error,
          h(
            "select",
            {
              id,
              testid: `question-${q.id}`,
              "aria-invalid": invalid ? "true" : false,
              "aria-describedby": describedBy,
              on: { change: (e) => set((e.target as HTMLSelectElement).value) },
            },
            h("option", { value: "", props: { selected: !entry.answers[q.id] } }, t.chooseOne),
            q.choices.map((c) => h("option", { value: c, props: { selected: entry.answers[q.id] === c } }, c)),
          ),
        );
      default:
        return h(
          "div",
          { class: "field question" },
          h("label", { for: id }, q.text),
          error,
          h("input", {
            id,
            testid: `question-${q.id}`,
            type: q.kind === "number" ? "number" : "text",
            inputmode: q.kind === "number" ? "decimal" : false,
            step: q.kind === "number" ? "any" : false,
            "aria-invalid": invalid ? "true" : false,
            "aria-describedby": describedBy,
            props: { value: entry.answers[q.id] ?? "" },
            on: { input: (e) => (entry.answers[q.id] = (e.target as HTMLInputElement).value) },
          }),
        );
    }
  }

  private renderSummary(entry: Entry): HTMLElement {
    const app = this.app;
    const t = app.t;
    const job = entry.dialog.job;
    return h(
      "section",
      { class: "summary", "aria-labelledby": "job-summary-title" },
      h("h3", { id: "job-summary-title" }, t.summaryLegend),
      h(
        "dl",
        { class: "facts facts-grid" },
        h("dt", {}, t.labelPages),
        h("dd", { testid: "dialog-pages" }, app.fmt.number(job.pages)),
        h("dt", {}, t.labelCopies),
        h("dd", { testid: "dialog-copies" }, app.fmt.number(job.copies)),
        h("dt", {}, t.labelColour),
        h("dd", { testid: "dialog-colour" }, job.colour ? t.colour : t.mono),
        h("dt", {}, t.labelSides),
        h("dd", { testid: "dialog-duplex" }, job.duplex ? t.duplex : t.simplex),
        h("dt", {}, t.labelPaper),
        h("dd", { testid: "dialog-paper" }, job.media ? app.fmt.paper(job.media) : "—"),
        h("dt", {}, t.labelPrice),
        h("dd", { class: "price", testid: "dialog-price" }, app.fmt.money(job.price_cents, app.currency())),
      ),
    );
  }
}

function questionId(id: string): string {
  return `job-question-${id.replace(/\s/g, "_")}`;
}
