//! The application shell: state received from the Rust side, navigation between screens,
//! the persistent navigation and status line, the live region, and the reaction to engine
//! events. Screens render from this state; nothing here talks to Tauri directly.

import type { About } from "./bindings/About";
import type { ClientEvent } from "./bindings/ClientEvent";
import type { ClientStatus } from "./bindings/ClientStatus";
import type { DesktopSettings } from "./bindings/DesktopSettings";
import type { Job } from "./bindings/Job";
import type { LoginMethod } from "./bindings/LoginMethod";
import type { LoginPolicy } from "./bindings/LoginPolicy";
import type { QueueInfo } from "./bindings/QueueInfo";
import type { RememberOption } from "./bindings/RememberOption";
import type { Backend, LanguageSetting } from "./backend";
import { h, replaceKeepingFocus } from "./dom";
import { errorText, toBackendError, type BackendError } from "./errors";
import { Formatter } from "./format";
import { catalogues, localeFor, resolveLanguage, type Lang, type Messages } from "./i18n";
import { AboutScreen } from "./screens/about";
import { DashboardScreen } from "./screens/dashboard";
import { FallbackController } from "./screens/fallback";
import { JobDialogController } from "./screens/jobDialog";
import { JobsScreen } from "./screens/jobs";
import { LoginScreen } from "./screens/login";
import { SettingsScreen } from "./screens/settings";

export type ScreenName = "login" | "dashboard" | "jobs" | "settings" | "about";
export const SCREENS: readonly ScreenName[] = ["login", "dashboard", "jobs", "settings", "about"];

export interface Screen {
  /** Builds the screen's root (`id="screen-<name>"`) from the current state. */
  render(): HTMLElement;
  /** Called when the user arrives on the screen: fetch what it shows. */
  onShow?(): void;
}

/** A login the engine asked for (`login_required`). */
export interface LoginRequest {
  reason: string;
  methods: LoginMethod[];
  job: string | null;
}

export interface AppOptions {
  /** Delay before the user list is searched, in ms. */
  debounceMs?: number;
  /** The operating system's locale (defaults to `navigator.language`). */
  osLocale?: () => string;
  /** Where the window was opened to go (`?open=` in its address: a screen, `job:<id>`,
   *  `fallback:<job>`): the desktop makes its window afresh each time it opens one. */
  openAt?: string | null;
}

type Tone = "info" | "error";

export class App {
  status: ClientStatus | null = null;
  policy: LoginPolicy | null = null;
  policyError: BackendError | null = null;
  rememberOptions: RememberOption[] = [];
  settings: DesktopSettings | null = null;
  about: About | null = null;
  jobs: Job[] = [];
  jobsLoaded = false;
  queues: QueueInfo[] = [];
  loginRequest: LoginRequest | null = null;

  lang: Lang = "en";
  t: Messages = catalogues.en;
  fmt: Formatter = new Formatter("en", catalogues.en);
  screen: ScreenName = "login";

  readonly debounceMs: number;
  private readonly openAt: string | null;
  private readonly osLocale: () => string;
  private readonly screens: Record<ScreenName, Screen>;
  readonly dialogs: JobDialogController;
  readonly fallbacks: FallbackController;
  private readonly unlisteners: (() => void)[] = [];

  private readonly shell: HTMLElement;
  private readonly navEl: HTMLElement;
  private readonly statusLine: HTMLElement;
  private readonly bannerArea: HTMLElement;
  private readonly screenArea: HTMLElement;
  private readonly liveEl: HTMLElement;
  private readonly skipLink: HTMLAnchorElement;
  private readonly brand: HTMLElement;
  private lastMessage: { text: string; tone: Tone } | null = null;
  /** The user signed out here: the engine's `logged_out` that follows is no news. */
  private signingOut = false;

  constructor(
    root: HTMLElement,
    readonly backend: Backend,
    options: AppOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 250;
    this.osLocale = options.osLocale ?? (() => (typeof navigator !== "undefined" ? navigator.language : "en"));
    this.openAt = options.openAt ?? null;
    this.applyLanguage(null);

    this.skipLink = h("a", { class: "skip-link", href: "#main" });
    this.brand = h("div", { class: "brand" });
    this.navEl = h("nav", { class: "nav" });
    this.statusLine = h("div", { class: "status-line", id: "status-line", role: "status", "aria-live": "polite" });
    this.bannerArea = h("div", { id: "banner-area" });
    this.screenArea = h("div", { id: "screen-area" });
    this.liveEl = h("div", { id: "live", class: "live", role: "status", "aria-live": "polite" });
    this.shell = h(
      "div",
      { class: "shell", id: "shell" },
      this.skipLink,
      h("header", { class: "sidebar" }, this.brand, this.navEl, this.statusLine),
      h("main", { id: "main", class: "content", tabindex: "-1" }, this.bannerArea, this.screenArea, this.liveEl),
    );
    const dialogLayer = h("div", { id: "dialog-layer" });
    const fallbackLayer = h("div", { id: "fallback-layer" });
    root.replaceChildren(this.shell, dialogLayer, fallbackLayer);

    this.dialogs = new JobDialogController(this, dialogLayer, this.shell);
    this.fallbacks = new FallbackController(this, fallbackLayer, this.shell);
    this.screens = {
      login: new LoginScreen(this),
      dashboard: new DashboardScreen(this),
      jobs: new JobsScreen(this),
      settings: new SettingsScreen(this),
      about: new AboutScreen(this),
    };
  }

  // ---- start-up ---------------------------------------------------------------------

  /** Subscribes to the engine, loads the state and shows the first screen. */
  async start(): Promise<void> {
    this.renderAll();
    try {
      this.unlisteners.push(await this.backend.onEvent((e) => this.handleEvent(e)));
      this.unlisteners.push(await this.backend.onNavigate((target) => this.handleNavigate(target)));
    } catch (e) {
      this.announceError(toBackendError(e));
    }
    const [settings, status, about] = await Promise.allSettled([
      this.backend.desktopSettings(),
      this.backend.status(),
      this.backend.about(),
    ]);
    if (settings.status === "fulfilled") {
      this.settings = settings.value;
      this.applyLanguage(settings.value.language);
    }
    if (about.status === "fulfilled") this.about = about.value;
    if (status.status === "rejected") {
      this.announceError(toBackendError(status.reason));
      this.navigate("settings", { focus: false });
      return;
    }
    this.status = status.value;
    const configured = status.value.connection.state !== "not_configured";
    if (configured) void this.loadPolicy();
    if (status.value.user) void this.loadJobs();
    this.navigate(!configured ? "settings" : status.value.user ? "dashboard" : "login", { focus: false });
    if (this.openAt) this.handleNavigate(this.openAt);
  }

  stop(): void {
    for (const u of this.unlisteners.splice(0)) u();
    this.dialogs.dispose();
  }

  // ---- language ---------------------------------------------------------------------

  private applyLanguage(setting: string | null | undefined): void {
    const os = this.osLocale();
    this.lang = resolveLanguage(setting, os);
    this.t = catalogues[this.lang];
    this.fmt = new Formatter(localeFor(this.lang, os), this.t);
    document.documentElement.lang = this.lang;
    document.title = this.t.documentTitle;
  }

  systemLocale(): string {
    return this.osLocale();
  }

  /** Saves the language choice and switches the whole interface to it, without reload. */
  async changeLanguage(language: LanguageSetting): Promise<void> {
    try {
      this.settings = await this.backend.setLanguage(language);
      this.applyLanguage(this.settings.language);
    } catch (e) {
      this.announceError(toBackendError(e));
      return;
    }
    this.renderAll();
    this.announce(this.t.languageChanged);
  }

  // ---- data -------------------------------------------------------------------------

  currency(): string {
    return this.status?.account?.currency ?? this.policy?.currency ?? "";
  }

  async loadPolicy(): Promise<void> {
    const [policy, remember] = await Promise.allSettled([this.backend.loginPolicy(), this.backend.rememberOptions()]);
    if (policy.status === "fulfilled") {
      this.policy = policy.value;
      this.policyError = null;
    } else {
      this.policyError = toBackendError(policy.reason);
    }
    this.rememberOptions = remember.status === "fulfilled" ? remember.value : [];
    if (this.screen === "login" || this.screen === "dashboard") this.renderMain();
  }

  async loadJobs(): Promise<void> {
    try {
      this.jobs = sortJobs(await this.backend.jobs());
      this.jobsLoaded = true;
    } catch (e) {
      this.announceError(toBackendError(e));
    }
    if (this.screen === "jobs" || this.screen === "dashboard") this.renderMain();
  }

  async loadQueues(): Promise<void> {
    try {
      this.queues = await this.backend.queues();
    } catch (e) {
      this.announceError(toBackendError(e));
    }
    if (this.screen === "jobs") this.renderMain();
  }

  async refreshStatus(): Promise<void> {
    try {
      this.setStatus(await this.backend.status());
    } catch (e) {
      this.announceError(toBackendError(e));
    }
  }

  /** Puts a job the Rust side sent into the list (newest first) and re-renders. */
  mergeJob(job: Job): Job | undefined {
    const i = this.jobs.findIndex((j) => j.id === job.id);
    const previous = i >= 0 ? this.jobs[i] : undefined;
    if (i >= 0) this.jobs[i] = job;
    else this.jobs.push(job);
    this.jobs = sortJobs(this.jobs);
    if (job.state !== "waiting_for_user") this.dialogs.drop(job.id);
    if (this.screen === "jobs" || this.screen === "dashboard") this.renderMain();
    return previous;
  }

  setStatus(next: ClientStatus): void {
    const prev = this.status;
    // A command's reply may arrive after a later pushed status: never go back to it.
    if (prev && next.revision < prev.revision) return;
    // A push older than what we show (`version` only grows) is dropped.
    if (
      prev?.account &&
      next.account &&
      prev.account.username === next.account.username &&
      next.account.version < prev.account.version
    ) {
      next = { ...next, account: prev.account };
    }
    this.status = next;
    const wasIn = prev?.user?.username ?? null;
    const isIn = next.user?.username ?? null;
    if (isIn !== wasIn) {
      this.jobs = [];
      this.jobsLoaded = false;
      if (isIn) {
        this.signingOut = false;
        this.loginRequest = null;
        // "You are signed out" is old news once somebody is signed in (here, from the
        // terminal, or from another front end of this session).
        const t = this.t;
        if (this.lastMessage && [t.signedOut, t.signedOutExpired, t.signedOutEnded].includes(this.lastMessage.text)) {
          this.dismiss();
        }
        void this.loadJobs();
        if (this.screen === "login") this.navigate("dashboard");
      } else {
        this.dialogs.clear();
        if (this.screen === "dashboard" || this.screen === "jobs") this.navigate("login");
      }
    }
    if (prev?.connection.state === "not_configured" && next.connection.state !== "not_configured") {
      void this.loadPolicy();
    }
    this.renderShell();
    if (this.screen === "dashboard") this.renderMain();
  }

  // ---- events -----------------------------------------------------------------------

  handleEvent(event: ClientEvent): void {
    const t = this.t;
    switch (event.type) {
      case "status":
        this.setStatus(event.status);
        break;
      case "login_required":
        this.loginRequest = { reason: event.reason, methods: event.methods, job: event.job };
        this.navigate("login");
        break;
      case "logged_out":
        // After the user's own sign-out, "You are signed out." says it (the engine's
        // reason would only repeat it, in English).
        if (this.signingOut) this.signingOut = false;
        else this.announce({ user: t.signedOut, expired: t.signedOutExpired, ended: t.signedOutEnded }[event.cause]);
        void this.refreshStatus();
        break;
      case "server_unreachable":
        this.announce(t.serverUnreachable, "error");
        break;
      case "server_back":
        this.announce(t.serverBack);
        if (!this.policy) void this.loadPolicy();
        break;
      case "job_submitted":
        this.mergeJob(event.job);
        break;
      case "job_refused":
        // The refusal's code says it in the user's language; the engine's words otherwise.
        this.announce(t.jobRefused(event.name, this.errorText({ code: event.code, message: event.reason })), "error");
        break;
      case "job_delayed":
        this.announce(t.jobDelayed(event.name));
        break;
      case "job_changed": {
        const before = this.mergeJob(event.job);
        if (before?.state !== event.job.state) this.announceJobState(event.job);
        break;
      }
      case "job_dialog":
        this.dialogs.enqueue(event.dialog);
        break;
      case "fallback_offered":
        this.fallbacks.enqueue(event.offer);
        break;
      case "fallback_closed":
        this.fallbacks.drop(event.job);
        break;
      case "offline_printed":
        this.announce(t.offlinePrinted(event.name, event.printer));
        void this.loadJobs();
        break;
      case "offline_reported":
        if (event.refused > 0) this.announce(t.offlineReportedRefused(event.reported, event.refused), "error");
        else if (event.reported > 0) this.announce(t.offlineReported(event.reported));
        void this.loadJobs();
        break;
    }
  }

  private announceJobState(job: Job): void {
    const t = this.t;
    switch (job.state) {
      case "printed":
        this.announce(t.jobPrinted(job.name));
        break;
      case "failed":
        this.announce(t.jobFailed(job.name, job.reason ?? ""), "error");
        break;
      case "rejected":
        this.announce(t.jobRefused(job.name, job.reason ?? ""), "error");
        break;
      case "expired":
        this.announce(t.jobExpired(job.name), "error");
        break;
      default:
        break;
    }
  }

  handleNavigate(target: string): void {
    if (target.startsWith("job:")) {
      void this.dialogs.open(target.slice("job:".length));
      return;
    }
    if (target.startsWith("fallback:")) {
      void this.fallbacks.open(target.slice("fallback:".length));
      return;
    }
    if ((SCREENS as readonly string[]).includes(target)) this.navigate(target as ScreenName);
  }

  // ---- navigation and rendering -----------------------------------------------------

  /** Shows a screen and moves focus to its heading. Screens that need a signed-in user
   *  lead to the login; the login needs a configured server. */
  navigate(name: ScreenName, { focus = true }: { focus?: boolean } = {}): void {
    const configured = this.status !== null && this.status.connection.state !== "not_configured";
    let target = name;
    if ((target === "dashboard" || target === "jobs") && !this.status?.user) target = "login";
    if (target === "login" && !configured && this.status !== null) target = "settings";
    this.screen = target;
    this.screens[target].onShow?.();
    this.renderShell();
    this.renderMain();
    if (focus) this.focusHeading();
  }

  focusHeading(): void {
    const heading = this.screenArea.querySelector<HTMLElement>("h1");
    heading?.focus();
  }

  renderAll(): void {
    this.renderShell();
    this.renderMain();
    this.dialogs.render();
  }

  renderMain(): void {
    replaceKeepingFocus(this.screenArea, this.screens[this.screen].render());
    replaceKeepingFocus(this.bannerArea, this.renderBanner());
  }

  renderShell(): void {
    const t = this.t;
    this.skipLink.textContent = t.skipToContent;
    this.brand.textContent = t.appName;
    this.navEl.setAttribute("aria-label", t.navLabel);
    const user = this.status?.user ?? null;
    const item = (name: ScreenName, label: string) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "nav-item",
            testid: `nav-${name}`,
            "aria-current": this.screen === name ? "page" : false,
            on: { click: () => this.navigate(name) },
          },
          label,
        ),
      );
    const account = user
      ? h(
          "button",
          { type: "button", class: "nav-item nav-account", testid: "nav-logout", on: { click: () => void this.logout() } },
          t.navLogout,
        )
      : h(
          "button",
          {
            type: "button",
            class: "nav-item nav-account",
            testid: "nav-login",
            "aria-current": this.screen === "login" ? "page" : false,
            on: { click: () => this.navigate("login") },
          },
          t.navLogin,
        );
    replaceKeepingFocus(
      this.navEl,
      h(
        "ul",
        {},
        item("dashboard", t.navDashboard),
        item("jobs", t.navJobs),
        item("settings", t.navSettings),
        item("about", t.navAbout),
        h("li", {}, account),
      ),
    );

    const conn = this.status?.connection.state ?? "connecting";
    replaceKeepingFocus(
      this.statusLine,
      h("p", { class: "status-who", id: "status-who" }, user ? t.statusSignedInAs(user.full_name || user.username) : t.statusNotSignedIn),
      h(
        "p",
        { class: ["status-conn", `conn-${conn}`], id: "status-conn" },
        h("span", { class: "dot", "aria-hidden": "true" }),
        t.connection[conn],
      ),
    );
  }

  private renderBanner(): HTMLElement | null {
    const s = this.status;
    if (!s) return null;
    const t = this.t;
    const pending =
      s.offline_pending > 0 ? h("p", { id: "offline-pending", testid: "offline-pending" }, t.offlinePending(s.offline_pending)) : null;
    if (s.connection.state !== "offline") {
      return pending ? h("div", { class: "banner", id: "pending-banner" }, pending) : null;
    }
    return h(
      "div",
      { class: "banner banner-offline", id: "offline-banner" },
      h("p", { class: "banner-title" }, t.offlineBanner),
      h("p", {}, t.offlineSince(this.fmt.when(s.connection.since_ms))),
      s.account_stale && s.account_as_of_ms !== null
        ? h("p", { id: "offline-as-of" }, t.accountAsOf(this.fmt.dateTime(s.account_as_of_ms)))
        : null,
      pending,
    );
  }

  // ---- messages ---------------------------------------------------------------------

  /** Shows a message in the polite live region. */
  announce(text: string, tone: Tone = "info"): void {
    this.lastMessage = { text, tone };
    const close = h(
      "button",
      {
        type: "button",
        class: "link-button",
        on: { click: () => this.dismiss() },
      },
      this.t.dismiss,
    );
    this.liveEl.replaceChildren(h("div", { class: ["toast", `toast-${tone}`] }, h("p", {}, text), close));
  }

  /** Takes the message in the live region away. */
  dismiss(): void {
    this.lastMessage = null;
    this.liveEl.replaceChildren();
  }

  lastAnnouncement(): string | null {
    return this.lastMessage?.text ?? null;
  }

  errorText(e: BackendError): string {
    return errorText(this.t, e, (ms) => this.fmt.when(ms));
  }

  announceError(e: BackendError): void {
    this.announce(this.errorText(e), "error");
  }

  async logout(): Promise<void> {
    this.signingOut = true;
    try {
      await this.backend.logout();
    } catch (e) {
      this.signingOut = false;
      this.announceError(toBackendError(e));
      return;
    }
    this.announce(this.t.signedOut);
    this.dialogs.clear();
    this.jobs = [];
    this.jobsLoaded = false;
    await this.refreshStatus();
    this.navigate("login");
  }
}

function sortJobs(jobs: Job[]): Job[] {
  return [...jobs].sort((a, b) => b.created_at_ms - a.created_at_ms);
}

/** Starts the app in `root`. */
export async function startApp(root: HTMLElement, backend: Backend, options: AppOptions = {}): Promise<App> {
  const app = new App(root, backend, options);
  await app.start();
  return app;
}
