//! The fallback dialog: the server cannot be reached and a job may print on a fallback
//! printer (the administrator's, one of this computer's, or one typed), shown with each
//! printer's live state; or, with none offered, only be tried again or cancelled. One
//! job at a time; offers arriving meanwhile wait. The engine keeps trying the server
//! while the dialog is open, and withdraws the offer (`fallback_closed`) when it is back.
//!
//! Escape (or "Decide later") only hides the dialog: the job keeps waiting, its offer
//! stands and a notification's click opens it again.

import type { App } from "../app";
import type { FallbackAnswer } from "../bindings/FallbackAnswer";
import type { FallbackOffer } from "../bindings/FallbackOffer";
import { dialogKeys, h, ModalLayer } from "../dom";
import { toBackendError } from "../errors";

interface Entry {
  offer: FallbackOffer;
  /** A printer's name, or `null` for the address typed. */
  chosen: string | null;
  typed: string;
  busy: boolean;
  error: string | null;
}

export class FallbackController {
  private queue: Entry[] = [];
  private readonly modal: ModalLayer;

  constructor(
    private readonly app: App,
    layer: HTMLElement,
    background: HTMLElement,
  ) {
    this.modal = new ModalLayer(layer, background, () => app.focusHeading());
  }

  get size(): number {
    return this.queue.length;
  }

  /** Adds (or refreshes) a job's offer; the first waiting is shown. */
  enqueue(offer: FallbackOffer): void {
    const existing = this.queue.find((e) => e.offer.job === offer.job);
    if (existing) {
      existing.offer = offer;
      existing.busy = false;
    } else {
      const first = offer.printers.find((p) => p.state !== "unreachable") ?? offer.printers[0];
      this.queue.push({ offer, chosen: first?.name ?? null, typed: "", busy: false, error: null });
    }
    this.render();
  }

  /** Shows the running client's offer for `job` again (a notification's click). */
  async open(job: string): Promise<void> {
    try {
      const offer = (await this.app.backend.fallbackOffers()).find((o) => o.job === job);
      if (offer) this.enqueue(offer);
    } catch (e) {
      this.app.announceError(toBackendError(e));
    }
  }

  /** The offer stands no more (answered, or the server is back). */
  drop(job: string): void {
    const before = this.queue.length;
    this.queue = this.queue.filter((e) => e.offer.job !== job);
    if (this.queue.length !== before) this.render();
  }

  later(): void {
    this.queue.shift();
    this.render();
  }

  private async send(entry: Entry, answer: FallbackAnswer): Promise<void> {
    const app = this.app;
    if (entry.busy) return;
    entry.busy = true;
    entry.error = null;
    this.render();
    try {
      await app.backend.answerFallback(entry.offer.job, answer);
      this.queue = this.queue.filter((e) => e !== entry);
      if (answer.action === "print") app.announce(app.t.fallbackSending(entry.offer.name, answer.printer));
      else if (answer.action === "cancel") app.announce(app.t.jobCancelled(entry.offer.name));
      else app.announce(app.t.fallbackTrying(entry.offer.name));
      this.render();
    } catch (e) {
      entry.busy = false;
      entry.error = app.errorText(toBackendError(e));
      this.render();
      app.announce(entry.error, "error");
    }
  }

  private print(entry: Entry): void {
    const t = this.app.t;
    const printer = entry.chosen ?? entry.typed.trim();
    if (printer === "") {
      entry.error = t.fallbackChoose;
      this.render();
      document.getElementById("fallback-printers")?.querySelector<HTMLElement>("input")?.focus();
      return;
    }
    void this.send(entry, { action: "print", printer });
  }

  // ---- rendering --------------------------------------------------------------------

  render(): void {
    const entry = this.queue[0];
    if (!entry) return this.modal.close();
    if (this.modal.show(entry.offer.job, this.renderDialog(entry))) document.getElementById("fallback-title")?.focus();
  }

  private renderDialog(entry: Entry): HTMLElement {
    const app = this.app;
    const t = app.t;
    const o = entry.offer;
    const canPrint = o.printers.length > 0 || o.may_type;
    const onKeydown = dialogKeys(() => this.later());
    const pages = o.pages !== null ? t.pageCount(o.pages, app.fmt.number(o.pages)) : null;
    return h(
      "div",
      {
        id: "screen-fallback",
        class: "dialog",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "fallback-title",
        "aria-describedby": "fallback-intro",
        "data-job": o.job,
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
              if (canPrint) this.print(entry);
              else void this.send(entry, { action: "try_again" });
            },
          },
        },
        h("h2", { id: "fallback-title", tabindex: "-1" }, t.fallbackTitle),
        h(
          "p",
          { id: "fallback-intro" },
          canPrint ? t.fallbackIntro(o.name) : t.fallbackWaits(o.name),
          pages ? [" ", h("span", { class: "muted" }, `(${pages})`)] : null,
        ),
        canPrint ? this.renderPrinters(entry) : null,
        entry.error ? h("p", { class: "form-error", id: "fallback-error" }, entry.error) : null,
        h(
          "div",
          { class: "actions" },
          canPrint
            ? h(
                "button",
                { type: "submit", class: "button primary", testid: "fallback-print", disabled: entry.busy },
                entry.busy ? t.dialogBusy : t.print,
              )
            : null,
          h(
            "button",
            {
              type: canPrint ? "button" : "submit",
              class: canPrint ? "button" : "button primary",
              testid: "fallback-retry",
              disabled: entry.busy,
              on: canPrint ? { click: () => void this.send(entry, { action: "try_again" }) } : {},
            },
            t.fallbackRetry,
          ),
          h(
            "button",
            {
              type: "button",
              class: "button danger",
              testid: "fallback-cancel",
              disabled: entry.busy,
              on: { click: () => void this.send(entry, { action: "cancel" }) },
            },
            t.cancelJob,
          ),
          h(
            "button",
            { type: "button", class: "button", testid: "fallback-later", on: { click: () => this.later() } },
            t.decideLater,
          ),
        ),
      ),
    );
  }

  private renderPrinters(entry: Entry): HTMLElement {
    const t = this.app.t;
    const o = entry.offer;
    const items = o.printers.map((p, i) => {
      const id = `fallback-printer-${i}`;
      const where = p.local ? t.fallbackLocal : t.fallbackPreset;
      return h(
        "li",
        {},
        h("input", {
          type: "radio",
          name: "fallback-printer",
          id,
          value: p.name,
          testid: `fallback-printer-${p.name}`,
          props: { checked: entry.chosen === p.name },
          on: { change: () => (entry.chosen = p.name) },
        }),
        h(
          "label",
          { for: id },
          h("span", { class: "choice-main" }, p.name),
          " ",
          h("span", { class: "choice-detail" }, `${t.printerStates[p.state]} · ${where}`),
        ),
      );
    });
    if (o.may_type) {
      items.push(
        h(
          "li",
          {},
          h("input", {
            type: "radio",
            name: "fallback-printer",
            id: "fallback-printer-typed",
            value: "",
            testid: "fallback-printer-typed",
            props: { checked: entry.chosen === null },
            on: { change: () => (entry.chosen = null) },
          }),
          h("label", { for: "fallback-printer-typed" }, h("span", { class: "choice-main" }, t.fallbackTypedChoice)),
        ),
      );
    }
    return h(
      "fieldset",
      { class: "choices", id: "fallback-printers" },
      h("legend", {}, t.fallbackLegend),
      h("ul", { class: "choice-list" }, items),
      o.may_type
        ? h(
            "div",
            { class: "field" },
            h("label", { for: "fallback-typed" }, t.fallbackTyped),
            h("input", {
              type: "text",
              id: "fallback-typed",
              testid: "fallback-typed",
              autocomplete: "off",
              spellcheck: "false",
              "aria-describedby": "fallback-typed-hint",
              props: { value: entry.typed },
              on: {
                input: (e) => {
                  entry.typed = (e.target as HTMLInputElement).value;
                  entry.chosen = null;
                  const typedRadio = document.getElementById("fallback-printer-typed") as HTMLInputElement | null;
                  if (typedRadio) typedRadio.checked = true;
                },
              },
            }),
            h("p", { class: "small muted", id: "fallback-typed-hint" }, t.fallbackTypedHint),
          )
        : null,
    );
  }
}
