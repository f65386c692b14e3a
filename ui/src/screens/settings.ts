//! Settings: the server's address (with the certificate fingerprint confirmation) and the
//! interface language, which switches live.

import type { App, Screen } from "../app";
import type { LanguageSetting } from "../backend";
import { h } from "../dom";
import { presentedFingerprint, toBackendError } from "../errors";
import { languageNames, systemLanguage } from "../i18n";

export class SettingsScreen implements Screen {
  private url: string | null = null;
  private fingerprint: string | null = null;
  private busy = false;
  private error: string | null = null;

  constructor(private readonly app: App) {}

  onShow(): void {
    void this.app.backend
      .desktopSettings()
      .then((s) => {
        this.app.settings = s;
        if (this.app.screen === "settings") this.app.renderMain();
      })
      .catch(() => undefined);
  }

  private draftUrl(): string {
    return this.url ?? this.app.settings?.server ?? this.app.status?.server ?? "";
  }

  private async save(fingerprint: string | null): Promise<void> {
    const app = this.app;
    if (this.busy) return;
    const url = this.draftUrl().trim();
    if (url === "") {
      this.error = app.t.serverMissing;
      app.renderMain();
      document.getElementById("server-url-input")?.focus();
      return;
    }
    this.busy = true;
    this.error = null;
    app.renderMain();
    try {
      app.settings = await app.backend.setServer(url, fingerprint);
      this.busy = false;
      this.fingerprint = null;
      this.url = null;
      app.announce(app.t.serverSaved(app.settings.server ?? url));
      app.policy = null;
      await app.refreshStatus();
      void app.loadPolicy();
      void app.backend
        .about()
        .then((a) => (app.about = a))
        .catch(() => undefined);
      if (app.status && !app.status.user && app.status.connection.state !== "not_configured") app.navigate("login");
      else app.renderMain();
    } catch (e) {
      const err = toBackendError(e);
      this.busy = false;
      const presented = err.code === "CERTIFICATE_UNTRUSTED" ? presentedFingerprint(err) : null;
      if (presented) {
        this.fingerprint = presented;
        app.renderMain();
        document.getElementById("cert-check")?.focus();
        app.announce(app.t.certTitle);
      } else {
        this.fingerprint = null;
        this.error = app.errorText(err);
        app.renderMain();
        app.announce(this.error, "error");
        document.getElementById("server-url-input")?.focus();
      }
    }
  }

  render(): HTMLElement {
    const app = this.app;
    const t = app.t;
    return h(
      "section",
      { id: "screen-settings", class: "screen screen-narrow", "aria-labelledby": "settings-title" },
      h("h1", { id: "settings-title", tabindex: "-1" }, t.settingsTitle),
      this.serverCard(),
      this.languageCard(),
    );
  }

  private serverCard(): HTMLElement {
    const t = this.app.t;
    return h(
      "section",
      { class: "card", "aria-labelledby": "server-settings-title" },
      h("h2", { id: "server-settings-title" }, t.serverLegend),
      h(
        "form",
        {
          class: "form",
          novalidate: true,
          "aria-busy": this.busy ? "true" : false,
          on: {
            submit: (e) => {
              e.preventDefault();
              void this.save(null);
            },
          },
        },
        h(
          "div",
          { class: "field" },
          h("label", { for: "server-url-input" }, t.serverUrl),
          h("p", { class: "hint", id: "server-url-hint" }, t.serverUrlHint),
          h("input", {
            id: "server-url-input",
            testid: "server-url",
            type: "url",
            inputmode: "url",
            autocomplete: "url",
            spellcheck: "false",
            "aria-describedby": this.error ? "server-url-hint server-error" : "server-url-hint",
            "aria-invalid": this.error ? "true" : false,
            props: { value: this.draftUrl() },
            on: {
              input: (e) => {
                this.url = (e.target as HTMLInputElement).value;
                this.fingerprint = null;
              },
            },
          }),
        ),
        this.error ? h("p", { class: "form-error", id: "server-error" }, this.error) : null,
        this.fingerprint ? this.certificateCheck(this.fingerprint) : null,
        h(
          "div",
          { class: "actions" },
          h(
            "button",
            { type: "submit", class: "button primary", testid: "server-save", id: "server-save-button", disabled: this.busy },
            this.busy ? t.settingsBusy : t.serverSave,
          ),
        ),
      ),
    );
  }

  private certificateCheck(fingerprint: string): HTMLElement {
    const t = this.app.t;
    return h(
      "div",
      { class: "notice notice-warning", id: "cert-check", tabindex: "-1", role: "group", "aria-labelledby": "cert-title" },
      h("h3", { id: "cert-title" }, t.certTitle),
      h("p", {}, t.certExplain),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t.certFingerprint),
        h("dd", {}, h("code", { class: "fingerprint", testid: "fingerprint-value" }, fingerprint)),
      ),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "button primary",
            testid: "accept-fingerprint",
            disabled: this.busy,
            on: { click: () => void this.save(fingerprint) },
          },
          t.certAccept,
        ),
        h(
          "button",
          {
            type: "button",
            class: "button",
            testid: "reject-fingerprint",
            on: {
              click: () => {
                this.fingerprint = null;
                this.app.renderMain();
                document.getElementById("server-url-input")?.focus();
              },
            },
          },
          t.certReject,
        ),
      ),
    );
  }

  private languageCard(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const setting = app.settings?.language ?? "";
    const current = setting === "en" || setting === "fr" ? setting : "";
    const system = languageNames[systemLanguage(app.systemLocale())];
    return h(
      "section",
      { class: "card", "aria-labelledby": "language-settings-title" },
      h("h2", { id: "language-settings-title" }, t.languageLegend),
      h(
        "div",
        { class: "field" },
        h("label", { for: "language-select" }, t.languageLabel),
        h(
          "select",
          {
            id: "language-select",
            testid: "language",
            on: {
              change: (e) => {
                const v = (e.target as HTMLSelectElement).value;
                const language: LanguageSetting = v === "en" || v === "fr" ? v : null;
                void app.changeLanguage(language);
              },
            },
          },
          h("option", { value: "", props: { selected: current === "" } }, t.languageSystem(system)),
          h("option", { value: "en", lang: "en", props: { selected: current === "en" } }, languageNames.en),
          h("option", { value: "fr", lang: "fr", props: { selected: current === "fr" } }, languageNames.fr),
        ),
      ),
    );
  }
}
