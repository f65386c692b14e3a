//! Numbers, money and times in the user's language, through `Intl`.

import type { QuotaView } from "./bindings/QuotaView";
import type { Messages } from "./i18n/en";

export class Formatter {
  constructor(
    readonly locale: string,
    private readonly t: Messages,
  ) {}

  /** Integer cents in `currency` ("EUR"); a missing or unknown currency gives a plain amount. */
  money(cents: number, currency: string | null | undefined): string {
    const amount = cents / 100;
    if (currency && /^[A-Za-z]{3}$/.test(currency)) {
      try {
        return new Intl.NumberFormat(this.locale, { style: "currency", currency: currency.toUpperCase() }).format(
          amount,
        );
      } catch {
        // An unknown ISO code: fall through to the amount followed by the code.
      }
    }
    const plain = new Intl.NumberFormat(this.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(
      amount,
    );
    return currency ? `${plain} ${currency}` : plain;
  }

  /**
   * A paper size as people name it ("A4", "Letter") from its PWG media name
   * ("iso_a4_210x297mm", "na_letter_8.5x11in"); a name it does not know is shown as it is.
   */
  paper(media: string): string {
    const m = /^(iso|na|jis)_([a-z0-9-]+?)_[0-9.]+x[0-9.]+(mm|in)$/.exec(media);
    if (!m) return media;
    const [, family, size] = m;
    if (family === "iso" || family === "jis") return size.toUpperCase();
    return size.charAt(0).toUpperCase() + size.slice(1);
  }

  number(n: number): string {
    return new Intl.NumberFormat(this.locale).format(n);
  }

  pages(n: number): string {
    return this.t.pageCount(n, this.number(n));
  }

  /** A date and time ("12 March 2026, 14:05"). */
  dateTime(ms: number): string {
    return new Intl.DateTimeFormat(this.locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
  }

  /** A time today, or a date and time otherwise. */
  when(ms: number, now: number = Date.now()): string {
    const d = new Date(ms);
    const today = new Date(now);
    if (d.toDateString() === today.toDateString()) {
      return new Intl.DateTimeFormat(this.locale, { timeStyle: "short" }).format(d);
    }
    return this.dateTime(ms);
  }

  date(ms: number): string {
    return new Intl.DateTimeFormat(this.locale, { dateStyle: "medium" }).format(new Date(ms));
  }

  /** A quota amount: money for money quotas, pages otherwise. */
  quotaAmount(quota: QuotaView, value: number, currency: string | null | undefined): string {
    return quota.metric === "money" ? this.money(value, currency) : this.pages(value);
  }
}
