// Test helpers: a fake backend (the one module the UI talks to), fixtures shaped like the
// generated bindings, and small DOM utilities.

import axe from "axe-core";
import { expect, vi, type Mock } from "vitest";
import { App, type AppOptions } from "../src/app";
import type { Backend } from "../src/backend";
import type { About } from "../src/bindings/About";
import type { AccountView } from "../src/bindings/AccountView";
import type { ClientEvent } from "../src/bindings/ClientEvent";
import type { ClientStatus } from "../src/bindings/ClientStatus";
import type { DesktopSettings } from "../src/bindings/DesktopSettings";
import type { FallbackOffer } from "../src/bindings/FallbackOffer";
import type { Job } from "../src/bindings/Job";
import type { JobDialog } from "../src/bindings/JobDialog";
import type { LoginPolicy } from "../src/bindings/LoginPolicy";
import type { QueueInfo } from "../src/bindings/QueueInfo";
import type { RememberOption } from "../src/bindings/RememberOption";

export const NOW = Date.UTC(2026, 2, 12, 13, 5);

export function account(over: Partial<AccountView> = {}): AccountView {
  return {
    username: "alice",
    full_name: "Alice Martin",
    email: "alice@example.com",
    groups: ["Staff", "Marketing"],
    is_admin: false,
    credit_cents: 2000,
    reserved_cents: 0,
    currency: "EUR",
    quotas: [
      {
        id: "q1",
        name: "Monthly pages",
        period: "month",
        metric: "total_pages",
        limit: 500,
        used: 120,
        reserved: 0,
        remaining: 380,
        period_start_ms: Date.UTC(2026, 2, 1),
        period_end_ms: Date.UTC(2026, 3, 1),
      },
    ],
    cost_centres: [{ id: "cc1", name: "Marketing", description: "Marketing department" }],
    projects: [
      { id: "p1", name: "Brochure 2026", description: "Spring brochure" },
      { id: "p2", name: "Website", description: "" },
    ],
    has_pin: true,
    version: 10,
    server_time_ms: NOW,
    offline_line: { pages: null, amount_cents: null },
    ...over,
  };
}

export function status(over: Partial<ClientStatus> = {}): ClientStatus {
  return {
    server: "https://print.example.com:8631",
    connection: { state: "online" },
    user: { username: "alice", full_name: "Alice Martin" },
    method: "pin",
    remember: "8h",
    session_ends_at_ms: NOW + 8 * 3_600_000,
    account: account(),
    account_stale: false,
    account_as_of_ms: NOW,
    workstation_id: "ws-1",
    revision: 10,
    offline_pending: 0,
    ...over,
  };
}

export function loggedOut(over: Partial<ClientStatus> = {}): ClientStatus {
  return status({ user: null, method: null, remember: null, session_ends_at_ms: null, account: null, ...over });
}

export const REMEMBER: RememberOption[] = [
  { id: "1h", label: "1 hour", seconds: 3600 },
  { id: "8h", label: "8 hours", seconds: 8 * 3600 },
  { id: "1d", label: "1 day", seconds: 86400 },
  { id: "1w", label: "1 week", seconds: 7 * 86400 },
  { id: "always", label: "Always", seconds: null },
];

export function policy(over: Partial<LoginPolicy> = {}): LoginPolicy {
  return {
    methods: ["user_list", "pin", "card", "card_pin", "password", "sso"],
    remember_options: REMEMBER,
    pin_min_length: 4,
    pin_max_length: 16,
    pin_generated_length: 6,
    server_name: "Head office",
    currency: "EUR",
    ...over,
  };
}

export function job(over: Partial<Job> = {}): Job {
  return {
    id: "j1",
    name: "report.pdf",
    queue: "Secure",
    state: "held",
    reason: null,
    pages: 12,
    copies: 1,
    colour: false,
    duplex: true,
    media: "A4",
    price_cents: 48,
    printer: null,
    payment: null,
    project: null,
    created_at_ms: NOW - 60_000,
    updated_at_ms: NOW - 60_000,
    offline: false,
    local: false,
    ...over,
  };
}

export function dialog(over: Partial<JobDialog> = {}): JobDialog {
  return {
    job: job({ id: "w1", name: "brochure.pdf", queue: "Projects", state: "waiting_for_user", price_cents: 240, colour: true }),
    payment_options: [
      { kind: "cost_centre", name: "Marketing", detail: "shared", credit_cents: null, quotas: [] },
      { kind: "credit", name: null, detail: "20.00 EUR", credit_cents: 2000, quotas: [] },
      { kind: "quota", name: null, detail: "Monthly pages: 380 left", credit_cents: null, quotas: account().quotas },
    ],
    choose_payment: true,
    projects: [
      { id: "p1", name: "Brochure 2026", description: "Spring brochure" },
      { id: "p2", name: "Website", description: "" },
    ],
    choose_project: true,
    confirm: true,
    questions: [],
    notices: [],
    ...over,
  };
}

export const QUEUES: QueueInfo[] = [
  { name: "Secure", detection: "session", printers: ["Floor 2 MFP", "Floor 3 Colour"], spooling: "server", default: false },
  { name: "Direct", detection: "session", printers: ["Floor 2 MFP"], spooling: "client", default: true },
];

export const ABOUT: About = {
  version: "0.1.0",
  server: "https://print.example.com:8631",
  server_fingerprint: "AB:CD:EF:01:23",
  workstation_id: "ws-1",
  os_user: "amartin",
};

export const SETTINGS: DesktopSettings = { server: "https://print.example.com:8631", language: null, remember_me: true };

type Fn<T extends (...args: never[]) => unknown> = Mock<T>;

export type FakeBackend = { [K in keyof Backend]: Fn<Backend[K]> } & {
  emit(event: ClientEvent): void;
  navigateTo(target: string): void;
};

/** A backend answering with the fixtures above; override any method with `mock…`. */
export function fakeBackend(over: Partial<Backend> = {}): FakeBackend {
  let eventHandler: ((e: ClientEvent) => void) | null = null;
  let navHandler: ((t: string) => void) | null = null;
  let settings: DesktopSettings = { ...SETTINGS };
  const base: Backend = {
    status: async () => status(),
    loginPolicy: async () => policy(),
    rememberOptions: async () => REMEMBER,
    directory: async (search) =>
      [
        { username: "alice", full_name: "Alice Martin" },
        { username: "bob", full_name: "Bob Durand" },
        { username: "carol", full_name: "Carole Petit" },
      ].filter((u) => u.full_name.toLowerCase().includes(search.toLowerCase())),
    login: async (input) => ({
      username: "username" in input ? input.username : "alice",
      full_name: "Alice Martin",
    }),
    logout: async () => null,
    newPin: async () => "482913",
    refreshAccount: async () => account(),
    queues: async () => QUEUES,
    jobs: async () => [],
    jobDialog: async () => dialog(),
    answerJob: async (id) => job({ id, state: "printing" }),
    releaseJob: async (id, printer) => job({ id, state: "printing", printer }),
    deleteJob: async (id) => job({ id, state: "deleted" }),
    fallbackOffers: async () => [],
    answerFallback: async () => null,
    about: async () => ABOUT,
    desktopSettings: async () => settings,
    setLanguage: async (language) => {
      settings = { ...settings, language };
      return settings;
    },
    setServer: async (url) => {
      settings = { ...settings, server: url };
      return settings;
    },
    onEvent: async (handler) => {
      eventHandler = handler;
      return () => (eventHandler = null);
    },
    onNavigate: async (handler) => {
      navHandler = handler;
      return () => (navHandler = null);
    },
    ...over,
  };
  const fake = {} as Record<string, unknown>;
  for (const [k, f] of Object.entries(base)) fake[k] = vi.fn(f as (...a: unknown[]) => unknown);
  fake.emit = (e: ClientEvent) => {
    if (!eventHandler) throw new Error("nobody listens to ream://event");
    eventHandler(e);
  };
  fake.navigateTo = (t: string) => {
    if (!navHandler) throw new Error("nobody listens to ream://navigate");
    navHandler(t);
  };
  return fake as FakeBackend;
}

/** Lets pending promises and zero-delay timers run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

let running: App | null = null;

export async function start(
  backend: FakeBackend = fakeBackend(),
  options: AppOptions = {},
): Promise<{ app: App; backend: FakeBackend; root: HTMLElement }> {
  running?.stop();
  document.body.replaceChildren();
  document.documentElement.lang = "";
  const root = document.createElement("div");
  root.id = "app";
  document.body.append(root);
  const app = new App(root, backend, { debounceMs: 0, osLocale: () => "en-GB", ...options });
  running = app;
  await app.start();
  await flush();
  return { app, backend, root };
}

export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no element with data-testid="${id}"`);
  return el;
}

export function maybeTestId(id: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
}

/** Text with every kind of space made plain and runs collapsed (Intl uses U+202F). */
export function text(el: Element | null | undefined): string {
  return (el?.textContent ?? "").replace(/[\u00a0\u202f\s]+/g, " ").trim();
}

export function typeInto(el: HTMLElement, value: string): void {
  const input = el as HTMLInputElement;
  input.focus();
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

export function choose(el: HTMLElement, value: string): void {
  const select = el as HTMLSelectElement;
  select.value = value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

export function check(el: HTMLElement, checked = true): void {
  const input = el as HTMLInputElement;
  input.checked = checked;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

export function press(el: Element, key: string, init: KeyboardEventInit = {}): void {
  el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));
}

export async function clickAndFlush(el: HTMLElement): Promise<void> {
  el.click();
  await flush();
}

/** Submits the form an element belongs to, as Enter or a submit button would. */
export async function submit(el: HTMLElement): Promise<void> {
  const form = el.closest("form");
  if (!form) throw new Error("not in a form");
  form.requestSubmit();
  await flush();
}

/** axe-core on the whole document; colour contrast cannot be computed in jsdom. */
export async function expectAccessible(context: Element = document.body): Promise<void> {
  const results = await axe.run(context, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ") + " " + n.failureSummary).join("\n    ")}`,
  );
  expect(summary).toEqual([]);
}

export function offer(over: Partial<FallbackOffer> = {}): FallbackOffer {
  return {
    job: "spool-1",
    name: "report.pdf",
    queue: "Direct",
    pages: 3,
    printers: [
      { name: "Hall", uri: "ipp://10.0.0.7/ipp/print", local: false, state: "idle" },
      { name: "Basement", uri: "ipp://10.0.0.8/ipp/print", local: false, state: "unreachable" },
      { name: "Desk USB", uri: "ipp://localhost:631/printers/Desk_USB", local: true, state: "processing" },
    ],
    may_type: true,
    reason: "the server cannot be reached",
    ...over,
  };
}
