//! About: the client's version, the server and the certificate it trusts, the
//! workstation's enrolment and the operating-system account.

import type { App, Screen } from "../app";
import { h } from "../dom";
import { toBackendError } from "../errors";

export class AboutScreen implements Screen {
  constructor(private readonly app: App) {}

  onShow(): void {
    const app = this.app;
    void app.backend
      .about()
      .then((about) => {
        app.about = about;
        if (app.screen === "about") app.renderMain();
      })
      .catch((e) => app.announceError(toBackendError(e)));
  }

  render(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const about = app.about;
    const row = (label: string, value: string | null, testid: string, fallback: string, code = false) => [
      h("dt", {}, label),
      h(
        "dd",
        { testid, class: value ? (code ? "break" : null) : "muted" },
        value ? (code ? h("code", { class: "fingerprint" }, value) : value) : fallback,
      ),
    ];
    return h(
      "section",
      { id: "screen-about", class: "screen screen-narrow", "aria-labelledby": "about-title" },
      h("h1", { id: "about-title", tabindex: "-1" }, t.aboutTitle),
      h("p", { class: "lead" }, t.aboutText),
      about
        ? h(
            "div",
            { class: "card" },
            h(
              "dl",
              { class: "facts" },
              row(t.aboutVersion, about.version, "about-version", t.notSet),
              row(t.aboutServer, about.server, "about-server", t.notSet),
              row(t.aboutFingerprint, about.server_fingerprint, "about-fingerprint", t.noFingerprint, true),
              row(t.aboutWorkstation, about.workstation_id, "about-workstation", t.notEnrolled, true),
              row(t.aboutOsUser, about.os_user, "about-os-user", t.notSet),
            ),
          )
        : h("p", { class: "muted" }, t.loading),
    );
  }
}
