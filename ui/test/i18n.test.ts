import { describe, expect, it } from "vitest";
import { Formatter } from "../src/format";
import { catalogues, localeFor, rememberLabel, resolveLanguage } from "../src/i18n";
import { en } from "../src/i18n/en";
import { fr } from "../src/i18n/fr";
import { errorText } from "../src/errors";
import {
  REMEMBER,
  byTestId,
  choose,
  clickAndFlush,
  fakeBackend,
  flush,
  job,
  loggedOut,
  start,
  text,
} from "./helpers";

function shape(o: object): string[] {
  return Object.entries(o)
    .flatMap(([k, v]) => (typeof v === "object" && v !== null ? shape(v).map((s) => `${k}.${s}`) : [k]))
    .sort();
}

const norm = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("languages", () => {
  it("French has every key English has", () => {
    expect(shape(fr)).toEqual(shape(en));
  });

  it("picks the setting first, then the OS locale, else English", () => {
    expect(resolveLanguage("fr", "en-US")).toBe("fr");
    expect(resolveLanguage("en", "fr-FR")).toBe("en");
    expect(resolveLanguage(null, "fr-CA")).toBe("fr");
    expect(resolveLanguage(null, "de-DE")).toBe("en");
    expect(localeFor("fr", "fr-CA")).toBe("fr-CA");
    expect(localeFor("fr", "en-GB")).toBe("fr");
  });

  it("follows the OS locale at start when no language is set", async () => {
    await start(fakeBackend(), { osLocale: () => "fr-FR" });
    expect(document.documentElement.lang).toBe("fr");
    expect(text(byTestId("nav-dashboard"))).toBe("Tableau de bord");
    expect(text(document.querySelector("#screen-dashboard h1"))).toBe("Tableau de bord");
    expect(text(byTestId("credit"))).toBe("20,00 €");
    expect(text(byTestId("quota-q1"))).toContain("Par mois · Toutes les pages");
    expect(text(byTestId("quota-q1").querySelector(".quota-remaining"))).toBe("380 pages");
    expect(document.title).toBe("Client d'impression Ream");
  });

  it("switches live from Settings, without reload, and keeps focus on the control", async () => {
    const { backend } = await start();
    await clickAndFlush(byTestId("nav-settings"));
    const shell = document.getElementById("shell");
    const select = byTestId<HTMLSelectElement>("language");
    select.focus();
    choose(select, "fr");
    await flush();
    expect(backend.setLanguage).toHaveBeenCalledWith("fr");
    expect(document.documentElement.lang).toBe("fr");
    expect(document.getElementById("shell")).toBe(shell);
    expect(text(document.querySelector("#screen-settings h1"))).toBe("Paramètres");
    expect(text(byTestId("nav-jobs"))).toBe("Mes travaux");
    expect(text(byTestId("nav-logout"))).toBe("Se déconnecter");
    expect(text(document.getElementById("status-conn"))).toBe("En ligne");
    expect(byTestId<HTMLSelectElement>("language").value).toBe("fr");
    expect(document.activeElement).toBe(byTestId("language"));
    expect(text(document.querySelector("#live p"))).toBe("L'application est maintenant en français.");

    await clickAndFlush(byTestId("nav-dashboard"));
    expect(text(byTestId("credit"))).toBe("20,00 €");

    await clickAndFlush(byTestId("nav-settings"));
    choose(byTestId("language"), "");
    await flush();
    expect(backend.setLanguage).toHaveBeenLastCalledWith(null);
    expect(document.documentElement.lang).toBe("en");
    expect(text(byTestId("nav-jobs"))).toBe("My jobs");
    expect([...byTestId<HTMLSelectElement>("language").options].map((o) => o.textContent)).toEqual([
      "Follow the system (English)",
      "English",
      "Français",
    ]);
  });

  it("shows job states, the login and errors in French", async () => {
    const backend = fakeBackend({
      jobs: async () => [job({ id: "h1", state: "held" }), job({ id: "r1", state: "rejected", reason: "quota" })],
    });
    backend.desktopSettings.mockResolvedValue({ server: "https://x", language: "fr", remember_me: true });
    await start(backend);
    await clickAndFlush(byTestId("nav-jobs"));
    expect(text(byTestId("job-h1"))).toContain("En attente");
    expect(text(byTestId("job-h1"))).toContain("Recto verso");
    expect(text(byTestId("release-h1"))).toBe("Libérer");
    expect(text(byTestId("job-r1"))).toContain("Motif : quota");

    const out = fakeBackend({
      status: async () => loggedOut(),
      login: async () => Promise.reject({ code: "AUTH_INVALID", message: "invalid" }),
    });
    out.desktopSettings.mockResolvedValue({ server: "https://x", language: "fr", remember_me: true });
    await start(out);
    expect(text(document.querySelector("#screen-login h1"))).toBe("Connexion");
    await clickAndFlush(byTestId("method-pin"));
    expect([...byTestId<HTMLSelectElement>("login-remember").options].map((o) => o.textContent)).toEqual([
      "Pour cette session uniquement",
      "1 heure",
      "8 heures",
      "1 jour",
      "1 semaine",
      "Toujours (jusqu'à la déconnexion)",
    ]);
    await clickAndFlush(byTestId("method-sso"));
    byTestId("login-submit").click();
    await flush();
    expect(text(document.getElementById("login-error"))).toBe(
      "Ces informations n'ont pas été reconnues. Vérifiez-les et réessayez.",
    );
  });
});

describe("formatting", () => {
  it("formats money in the current language, with or without a currency", () => {
    const enF = new Formatter("en-GB", catalogues.en);
    const frF = new Formatter("fr-FR", catalogues.fr);
    expect(enF.money(123456, "EUR")).toBe("€1,234.56");
    expect(norm(frF.money(123456, "EUR"))).toBe("1 234,56 €");
    expect(enF.money(-50, "USD")).toBe("-US$0.50");
    expect(enF.money(250, "")).toBe("2.50");
    expect(norm(frF.money(250, "credits"))).toBe("2,50 credits");
  });

  it("names paper sizes as people do, and leaves unknown media as they are", () => {
    const f = new Formatter("en-GB", catalogues.en);
    expect(f.paper("iso_a4_210x297mm")).toBe("A4");
    expect(f.paper("iso_a3_297x420mm")).toBe("A3");
    expect(f.paper("na_letter_8.5x11in")).toBe("Letter");
    expect(f.paper("na_legal_8.5x14in")).toBe("Legal");
    expect(f.paper("custom_roll")).toBe("custom_roll");
  });

  it("counts pages with the right plural", () => {
    const enF = new Formatter("en-GB", catalogues.en);
    const frF = new Formatter("fr-FR", catalogues.fr);
    expect(enF.pages(1)).toBe("1 page");
    expect(enF.pages(0)).toBe("0 pages");
    expect(norm(enF.pages(1500))).toBe("1,500 pages");
    expect(frF.pages(0)).toBe("0 page");
    expect(frF.pages(2)).toBe("2 pages");
    expect(norm(frF.pages(1500))).toBe("1 500 pages");
  });

  it("formats times and dates in the current language", () => {
    const at = Date.UTC(2026, 2, 12, 13, 5);
    const frF = new Formatter("fr-FR", catalogues.fr);
    expect(frF.date(at)).toBe(new Intl.DateTimeFormat("fr-FR", { dateStyle: "medium" }).format(new Date(at)));
    expect(frF.date(at)).toContain("mars");
    expect(new Formatter("en-GB", catalogues.en).date(at)).toContain("Mar");
  });

  it("names remember-me durations in each language", () => {
    expect(REMEMBER.map((o) => rememberLabel(catalogues.en, o))).toEqual([
      "1 hour",
      "8 hours",
      "1 day",
      "1 week",
      "Always (until I sign out)",
    ]);
    expect(rememberLabel(catalogues.fr, { id: "2w", label: "2 weeks", seconds: 14 * 86400 })).toBe("2 semaines");
    expect(rememberLabel(catalogues.en, { id: "odd", label: "90 seconds", seconds: 90 })).toBe("90 seconds");
  });

  it("translates error codes and falls back to the server's message", () => {
    const time = () => "14:05";
    expect(errorText(catalogues.fr, { code: "QUOTA_EXCEEDED", message: "x" }, time)).toBe(
      "Votre quota ne couvre pas ce travail.",
    );
    expect(errorText(catalogues.en, { code: "SOMETHING_NEW", message: "Server says no" }, time)).toBe("Server says no");
    expect(errorText(catalogues.en, { code: "SOMETHING_NEW", message: "" }, time)).toBe("Something went wrong.");
    expect(
      errorText(catalogues.fr, { code: "AUTH_LOCKED", message: "", details: { retry_at_ms: 1 } }, time),
    ).toBe("Trop de tentatives échouées : cette identité est bloquée jusqu'à 14:05.");
  });
});
