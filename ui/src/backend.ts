//! The one door to the Rust side. Nothing else in the front end imports `@tauri-apps/*`:
//! the rest of the UI talks to a `Backend`, which unit tests replace with a fake.
//!
//! Commands are listed once in `Commands` (name → arguments → result), so a misspelt
//! command or a wrong argument is a compile error. Tauri maps the camelCase argument keys
//! written here to the Rust commands' snake_case parameters.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { About } from "./bindings/About";
import type { ClientEvent } from "./bindings/ClientEvent";
import type { ClientStatus } from "./bindings/ClientStatus";
import type { DesktopSettings } from "./bindings/DesktopSettings";
import type { DirectoryEntry } from "./bindings/DirectoryEntry";
import type { FallbackAnswer } from "./bindings/FallbackAnswer";
import type { FallbackOffer } from "./bindings/FallbackOffer";
import type { Job } from "./bindings/Job";
import type { JobAnswer } from "./bindings/JobAnswer";
import type { JobDialog } from "./bindings/JobDialog";
import type { LoginInput } from "./bindings/LoginInput";
import type { LoginPolicy } from "./bindings/LoginPolicy";
import type { QueueInfo } from "./bindings/QueueInfo";
import type { RememberOption } from "./bindings/RememberOption";
import type { UserSummary } from "./bindings/UserSummary";
import type { AccountView } from "./bindings/AccountView";

/** The language a user may pick; `null` follows the operating system. */
export type LanguageSetting = "en" | "fr" | null;

/** Every Tauri command the UI calls: arguments (camelCase) and result. */
export interface Commands {
  status: { args: undefined; result: ClientStatus };
  login_policy: { args: undefined; result: LoginPolicy };
  remember_options: { args: undefined; result: RememberOption[] };
  directory: { args: { search: string }; result: DirectoryEntry[] };
  login: { args: { input: LoginInput; remember: string | null }; result: UserSummary };
  logout: { args: undefined; result: null };
  new_pin: { args: undefined; result: string };
  refresh_account: { args: undefined; result: AccountView };
  queues: { args: undefined; result: QueueInfo[] };
  jobs: { args: undefined; result: Job[] };
  job_dialog: { args: { id: string }; result: JobDialog };
  answer_job: { args: { id: string; answer: JobAnswer }; result: Job };
  release_job: { args: { id: string; printer: string | null }; result: Job };
  delete_job: { args: { id: string }; result: Job };
  fallback_offers: { args: undefined; result: FallbackOffer[] };
  answer_fallback: { args: { job: string; answer: FallbackAnswer }; result: null };
  about: { args: undefined; result: About };
  desktop_settings: { args: undefined; result: DesktopSettings };
  set_language: { args: { language: LanguageSetting }; result: DesktopSettings };
  set_server: { args: { url: string; fingerprint: string | null }; result: DesktopSettings };
}

/** The event names the Rust side emits. */
export const EVENT_CLIENT = "ream://event";
export const EVENT_NAVIGATE = "ream://navigate";

export type Unlisten = () => void;

/** What the UI needs from the Rust side. */
export interface Backend {
  status(): Promise<ClientStatus>;
  loginPolicy(): Promise<LoginPolicy>;
  rememberOptions(): Promise<RememberOption[]>;
  directory(search: string): Promise<DirectoryEntry[]>;
  login(input: LoginInput, remember: string | null): Promise<UserSummary>;
  logout(): Promise<null>;
  newPin(): Promise<string>;
  refreshAccount(): Promise<AccountView>;
  queues(): Promise<QueueInfo[]>;
  jobs(): Promise<Job[]>;
  jobDialog(id: string): Promise<JobDialog>;
  answerJob(id: string, answer: JobAnswer): Promise<Job>;
  releaseJob(id: string, printer: string | null): Promise<Job>;
  deleteJob(id: string): Promise<Job>;
  fallbackOffers(): Promise<FallbackOffer[]>;
  answerFallback(job: string, answer: FallbackAnswer): Promise<null>;
  about(): Promise<About>;
  desktopSettings(): Promise<DesktopSettings>;
  setLanguage(language: LanguageSetting): Promise<DesktopSettings>;
  setServer(url: string, fingerprint: string | null): Promise<DesktopSettings>;
  /** Engine events (`ream://event`). */
  onEvent(handler: (event: ClientEvent) => void): Promise<Unlisten>;
  /** Tray requests (`ream://navigate`): a screen name or `job:<id>`. */
  onNavigate(handler: (target: string) => void): Promise<Unlisten>;
}

function call<K extends keyof Commands>(
  command: K,
  ...args: Commands[K]["args"] extends undefined ? [] : [Commands[K]["args"]]
): Promise<Commands[K]["result"]> {
  return invoke<Commands[K]["result"]>(command, args[0]);
}

/** The real backend, over Tauri's IPC. */
export const tauriBackend: Backend = {
  status: () => call("status"),
  loginPolicy: () => call("login_policy"),
  rememberOptions: () => call("remember_options"),
  directory: (search) => call("directory", { search }),
  login: (input, remember) => call("login", { input, remember }),
  logout: () => call("logout"),
  newPin: () => call("new_pin"),
  refreshAccount: () => call("refresh_account"),
  queues: () => call("queues"),
  jobs: () => call("jobs"),
  jobDialog: (id) => call("job_dialog", { id }),
  answerJob: (id, answer) => call("answer_job", { id, answer }),
  releaseJob: (id, printer) => call("release_job", { id, printer }),
  deleteJob: (id) => call("delete_job", { id }),
  fallbackOffers: () => call("fallback_offers"),
  answerFallback: (job, answer) => call("answer_fallback", { job, answer }),
  about: () => call("about"),
  desktopSettings: () => call("desktop_settings"),
  setLanguage: (language) => call("set_language", { language }),
  setServer: (url, fingerprint) => call("set_server", { url, fingerprint }),
  onEvent: (handler) => listen<ClientEvent>(EVENT_CLIENT, (e) => handler(e.payload)),
  onNavigate: (handler) => listen<string>(EVENT_NAVIGATE, (e) => handler(e.payload)),
};
