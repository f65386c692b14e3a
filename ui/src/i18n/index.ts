//! The user's language: the desktop setting when set, else the operating system's.

import type { RememberOption } from "../bindings/RememberOption";
import { en, type Messages } from "./en";
import { fr } from "./fr";

export type Lang = "en" | "fr";
export type { Messages };

export const catalogues: Record<Lang, Messages> = { en, fr };

/** Native names, shown the same in every language. */
export const languageNames: Record<Lang, string> = { en: "English", fr: "Français" };

function asLang(tag: string | null | undefined): Lang | null {
  const base = (tag ?? "").toLowerCase().split(/[-_]/)[0];
  return base === "en" || base === "fr" ? base : null;
}

/** The operating system's language, when we have it, else English. */
export function systemLanguage(osLocale: string | null | undefined): Lang {
  return asLang(osLocale) ?? "en";
}

/** `setting` ("en", "fr" or null) wins over the OS locale. */
export function resolveLanguage(setting: string | null | undefined, osLocale: string | null | undefined): Lang {
  return asLang(setting) ?? systemLanguage(osLocale);
}

/** The locale for `Intl`: the OS's own regional variant when it speaks `lang`. */
export function localeFor(lang: Lang, osLocale: string | null | undefined): string {
  if (osLocale && asLang(osLocale) === lang) {
    try {
      return Intl.getCanonicalLocales(osLocale.replace("_", "-"))[0] ?? lang;
    } catch {
      return lang;
    }
  }
  return lang;
}

/** A remember-me choice in the user's language; the server's English label otherwise. */
export function rememberLabel(t: Messages, option: RememberOption): string {
  const s = option.seconds;
  if (s === null) return t.rememberAlways;
  const week = 7 * 86_400;
  if (s > 0 && s % week === 0) return t.rememberWeeks(s / week);
  if (s > 0 && s % 86_400 === 0) return t.rememberDays(s / 86_400);
  if (s > 0 && s % 3_600 === 0) return t.rememberHours(s / 3_600);
  if (s > 0 && s % 60 === 0) return t.rememberMinutes(s / 60);
  return option.label;
}
