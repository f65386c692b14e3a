//! The sign-in screen: one tab per login method the server enables (or the ones a waiting
//! job asks for), the remember-me choice, and errors that keep what the user typed.

import type { App, Screen } from "../app";
import type { DirectoryEntry } from "../bindings/DirectoryEntry";
import type { LoginInput } from "../bindings/LoginInput";
import type { LoginMethod } from "../bindings/LoginMethod";
import { h } from "../dom";
import { toBackendError, type BackendError } from "../errors";
import { rememberLabel } from "../i18n";

/** Ids of the inputs, stable across renders so focus and caret survive them. */
const FIELD = {
  search: "login-search-input",
  pin: "login-pin-input",
  card: "login-card-input",
  username: "login-username-input",
  password: "login-password-input",
  remember: "login-remember-select",
  submit: "login-submit-button",
  users: "login-users",
} as const;

type Field = (typeof FIELD)[keyof typeof FIELD];

interface FormError {
  text: string;
  field: Field | null;
}

export class LoginScreen implements Screen {
  private method: LoginMethod | null = null;
  private search = "";
  private users: DirectoryEntry[] = [];
  private usersState: "idle" | "loading" | "loaded" | "error" = "idle";
  private usersError: BackendError | null = null;
  private selectedUser = "";
  private pin = "";
  private card = "";
  private username = "";
  private password = "";
  private remember = "";
  private busy = false;
  private error: FormError | null = null;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  private searchSeq = 0;

  constructor(private readonly app: App) {}

  onShow(): void {
    if (!this.app.policy) void this.app.loadPolicy().then(() => this.ensureUsers());
    else this.ensureUsers();
  }

  /** The methods offered now: the server's, narrowed to a waiting job's request. */
  methods(): LoginMethod[] {
    const enabled = this.app.policy?.methods ?? [];
    const wanted = this.app.loginRequest?.methods ?? [];
    if (wanted.length === 0) return enabled;
    if (enabled.length === 0) return wanted;
    const both = enabled.filter((m) => wanted.includes(m));
    return both.length > 0 ? both : enabled;
  }

  private current(): LoginMethod | null {
    const methods = this.methods();
    if (this.method && methods.includes(this.method)) return this.method;
    return methods[0] ?? null;
  }

  private rerender(): void {
    if (this.app.screen === "login") this.app.renderMain();
  }

  private focus(id: string): void {
    const el = document.getElementById(id);
    if (el instanceof HTMLInputElement && el.type !== "radio") {
      el.focus();
      el.select();
    } else el?.focus();
  }

  // ---- user list --------------------------------------------------------------------

  private ensureUsers(): void {
    if (this.current() === "user_list" && this.usersState === "idle") void this.loadUsers();
  }

  private scheduleSearch(): void {
    if (this.searchTimer !== null) clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      this.searchTimer = null;
      void this.loadUsers();
    }, this.app.debounceMs);
  }

  private async loadUsers(): Promise<void> {
    const seq = ++this.searchSeq;
    this.usersState = "loading";
    this.rerender();
    try {
      const users = await this.app.backend.directory(this.search.trim());
      if (seq !== this.searchSeq) return;
      this.users = users;
      this.usersState = "loaded";
      this.usersError = null;
    } catch (e) {
      if (seq !== this.searchSeq) return;
      this.usersState = "error";
      this.usersError = toBackendError(e);
    }
    this.rerender();
  }

  // ---- submission -------------------------------------------------------------------

  private validate(method: LoginMethod): LoginInput | FormError {
    const t = this.app.t;
    const policy = this.app.policy;
    const pinOk = (): FormError | null => {
      if (this.pin === "") return { text: t.loginMissingPin, field: FIELD.pin };
      const min = policy?.pin_min_length ?? 1;
      const max = policy?.pin_max_length ?? 64;
      if (!/^\d+$/.test(this.pin) || this.pin.length < min || this.pin.length > max) {
        return { text: t.loginPinFormat(min, max), field: FIELD.pin };
      }
      return null;
    };
    switch (method) {
      case "user_list":
        if (this.selectedUser === "") return { text: t.loginMissingUser, field: FIELD.search };
        return { method, username: this.selectedUser };
      case "pin":
        return pinOk() ?? { method, pin: this.pin };
      case "card":
        if (this.card.trim() === "") return { text: t.loginMissingCard, field: FIELD.card };
        return { method, card: this.card.trim() };
      case "card_pin":
        if (this.card.trim() === "") return { text: t.loginMissingCard, field: FIELD.card };
        return pinOk() ?? { method, card: this.card.trim(), pin: this.pin };
      case "password":
        if (this.username.trim() === "") return { text: t.loginMissingUsername, field: FIELD.username };
        if (this.password === "") return { text: t.loginMissingPassword, field: FIELD.password };
        return { method, username: this.username.trim(), password: this.password };
      case "sso":
        return { method };
    }
  }

  /** Where the user goes back to after a refused attempt. */
  private retryField(method: LoginMethod): Field {
    switch (method) {
      case "user_list":
        return FIELD.search;
      case "pin":
      case "card_pin":
        return FIELD.pin;
      case "card":
        return FIELD.card;
      case "password":
        return FIELD.password;
      case "sso":
        return FIELD.submit;
    }
  }

  private async submit(): Promise<void> {
    const method = this.current();
    if (this.busy || method === null) return;
    const input = this.validate(method);
    if ("text" in input) {
      this.error = input;
      this.rerender();
      if (input.field) this.focus(input.field);
      return;
    }
    this.busy = true;
    this.error = null;
    this.rerender();
    const remember = this.rememberAllowed() && this.remember !== "" ? this.remember : null;
    try {
      const user = await this.app.backend.login(input, remember);
      // Nothing of this person stays in the form for the next one at this workstation.
      this.busy = false;
      this.pin = "";
      this.password = "";
      this.card = "";
      this.username = "";
      this.selectedUser = "";
      this.search = "";
      this.usersState = "idle";
      this.app.loginRequest = null;
      this.app.announce(this.app.t.loginSucceeded(user.full_name || user.username));
      await this.app.refreshStatus();
      if (this.app.screen === "login") this.app.navigate("dashboard");
    } catch (e) {
      const err = toBackendError(e);
      this.busy = false;
      // The secret goes; everything else the user typed stays.
      this.pin = "";
      this.password = "";
      const field = this.retryField(method);
      this.error = { text: this.app.errorText(err), field };
      this.rerender();
      this.app.announce(this.error.text, "error");
      const selected = method === "user_list" ? document.getElementById(userId(this.selectedUser)) : null;
      if (selected) selected.focus();
      else this.focus(field);
    }
  }

  /** Remember-me disabled at installation: the engine offers no option (and the
   *  desktop settings say so); the control is then not shown at all. */
  private rememberAllowed(): boolean {
    return this.app.rememberOptions.length > 0 && this.app.settings?.remember_me !== false;
  }

  // ---- rendering --------------------------------------------------------------------

  render(): HTMLElement {
    const app = this.app;
    const t = app.t;
    const methods = this.methods();
    const method = this.current();
    const serverName = app.policy?.server_name || app.status?.server || null;
    const request = app.loginRequest;

    const root = h(
      "section",
      { id: "screen-login", class: "screen screen-narrow", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title", tabindex: "-1" }, t.loginTitle),
      h("p", { class: "lead" }, serverName ? t.loginIntro(serverName) : t.loginIntroNoServer),
    );

    if (request) {
      root.append(
        h(
          "div",
          { class: "notice notice-warning", id: "login-request" },
          h("p", { class: "notice-title" }, request.job ? t.loginRequiredJob : t.loginRequired),
          // The job's name in the user's language; the engine's reason only for other requests.
          request.job ? h("p", {}, t.loginRequiredFor(request.job)) : request.reason ? h("p", {}, request.reason) : null,
        ),
      );
    }

    if (app.status?.connection.state === "not_configured") {
      root.append(
        h(
          "div",
          { class: "notice" },
          h("p", {}, t.loginNeedServer),
          h("button", { type: "button", class: "button", on: { click: () => app.navigate("settings") } }, t.loginOpenSettings),
        ),
      );
      return root;
    }

    if (methods.length === 0 || method === null) {
      if (app.policyError) {
        root.append(
          h(
            "div",
            { class: "notice notice-error" },
            h("p", {}, t.loginPolicyFailed, " ", app.errorText(app.policyError)),
            h("button", { type: "button", class: "button", on: { click: () => void app.loadPolicy() } }, t.retry),
          ),
        );
      } else {
        root.append(h("p", { class: "muted" }, t.loading));
      }
      return root;
    }

    root.append(this.renderTabs(methods, method), this.renderForm(method));
    return root;
  }

  private renderTabs(methods: LoginMethod[], current: LoginMethod): HTMLElement {
    const t = this.app.t;
    const select = (m: LoginMethod) => {
      this.method = m;
      this.error = null;
      this.rerender();
      this.ensureUsers();
      document.getElementById(`login-tab-${m}`)?.focus();
    };
    const onKey = (event: KeyboardEvent, index: number) => {
      let next: number | null = null;
      if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (index + 1) % methods.length;
      else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = (index - 1 + methods.length) % methods.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = methods.length - 1;
      if (next === null) return;
      event.preventDefault();
      const m = methods[next];
      if (m) select(m);
    };
    return h(
      "div",
      { class: "tabs", role: "tablist", "aria-label": t.loginMethodsLabel },
      methods.map((m, i) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            class: "tab",
            id: `login-tab-${m}`,
            testid: `method-${m}`,
            "aria-selected": m === current ? "true" : "false",
            "aria-controls": "login-panel",
            tabindex: m === current ? "0" : "-1",
            on: { click: () => select(m), keydown: (e) => onKey(e, i) },
          },
          t.methods[m],
        ),
      ),
    );
  }

  private renderForm(method: LoginMethod): HTMLElement {
    const app = this.app;
    const t = app.t;
    const errorId = "login-error";
    const invalid = (field: Field) => this.error?.field === field;
    const describedBy = (field: Field, hint?: string) =>
      [hint, invalid(field) ? errorId : null].filter(Boolean).join(" ") || false;

    const textField = (
      field: Field,
      testid: string,
      label: string,
      value: string,
      set: (v: string) => void,
      attrs: Record<string, unknown>,
      hint?: string,
    ) => {
      const hintId = hint ? `${field}-hint` : undefined;
      return h(
        "div",
        { class: "field" },
        h("label", { for: field }, label),
        hint ? h("p", { class: "hint", id: hintId }, hint) : null,
        h("input", {
          id: field,
          name: field,
          testid,
          ...attrs,
          "aria-invalid": invalid(field) ? "true" : false,
          "aria-describedby": describedBy(field, hintId),
          props: { value },
          on: { input: (e) => set((e.target as HTMLInputElement).value) },
        }),
      );
    };

    const pinField = () =>
      textField(
        FIELD.pin,
        "login-pin",
        t.loginPin,
        this.pin,
        (v) => (this.pin = v),
        { type: "password", inputmode: "numeric", autocomplete: "off" },
        app.policy ? t.loginPinHint(app.policy.pin_min_length, app.policy.pin_max_length) : undefined,
      );
    const cardField = () =>
      textField(
        FIELD.card,
        "login-card",
        t.loginCard,
        this.card,
        (v) => (this.card = v),
        { type: "password", autocomplete: "off" },
        t.loginCardHint,
      );

    const fields: (HTMLElement | null)[] = [];
    switch (method) {
      case "user_list":
        fields.push(
          textField(FIELD.search, "login-search", t.loginSearch, this.search, (v) => {
            this.search = v;
            this.scheduleSearch();
          }, { type: "search", autocomplete: "off" }),
          this.renderUsers(),
        );
        break;
      case "pin":
        fields.push(pinField());
        break;
      case "card":
        fields.push(cardField());
        break;
      case "card_pin":
        fields.push(cardField(), pinField());
        break;
      case "password":
        fields.push(
          textField(FIELD.username, "login-username", t.loginUsername, this.username, (v) => (this.username = v), {
            type: "text",
            autocomplete: "username",
            autocapitalize: "none",
            spellcheck: "false",
          }),
          textField(FIELD.password, "login-password", t.loginPassword, this.password, (v) => (this.password = v), {
            type: "password",
            autocomplete: "current-password",
          }),
        );
        break;
      case "sso":
        fields.push(h("p", {}, t.loginSsoText));
        break;
    }

    if (this.rememberAllowed()) {
      const known = app.rememberOptions.some((o) => o.id === this.remember);
      if (!known) this.remember = "";
      fields.push(
        h(
          "div",
          { class: "field" },
          h("label", { for: FIELD.remember }, t.loginRemember),
          h(
            "select",
            {
              id: FIELD.remember,
              testid: "login-remember",
              on: { change: (e) => (this.remember = (e.target as HTMLSelectElement).value) },
            },
            h("option", { value: "", props: { selected: this.remember === "" } }, t.rememberSession),
            app.rememberOptions.map((o) =>
              h("option", { value: o.id, props: { selected: this.remember === o.id } }, rememberLabel(t, o)),
            ),
          ),
        ),
      );
    }

    const osUser = app.about?.os_user;
    const submitLabel = this.busy
      ? t.loginBusy
      : method === "sso"
        ? osUser
          ? t.loginSsoButton(osUser)
          : t.loginSsoButtonNoUser
        : t.loginSubmit;

    const form = h(
      "form",
      {
        id: "login-form",
        class: "form",
        "aria-busy": this.busy ? "true" : false,
        novalidate: true,
        on: {
          submit: (e) => {
            e.preventDefault();
            void this.submit();
          },
        },
      },
      fields,
      this.error ? h("p", { class: "form-error", id: errorId }, this.error.text) : null,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "submit", class: "button primary", id: FIELD.submit, testid: "login-submit", disabled: this.busy },
          submitLabel,
        ),
      ),
    );
    return h(
      "div",
      { id: "login-panel", class: "card", role: "tabpanel", "aria-labelledby": `login-tab-${method}` },
      form,
    );
  }

  private renderUsers(): HTMLElement {
    const t = this.app.t;
    const list =
      this.usersState === "error" && this.usersError
        ? h("p", { class: "form-error" }, this.app.errorText(this.usersError))
        : this.usersState !== "loaded" && this.users.length === 0
          ? h("p", { class: "muted" }, t.loading)
          : this.users.length === 0
            ? h("p", { class: "muted" }, t.loginNoUsers)
            : h(
                "ul",
                { class: "choice-list" },
                this.users.map((u) =>
                  h(
                    "li",
                    {},
                    h("input", {
                      type: "radio",
                      name: "login-user",
                      id: userId(u.username),
                      value: u.username,
                      testid: `login-user-${u.username}`,
                      props: { checked: this.selectedUser === u.username },
                      on: {
                        change: () => (this.selectedUser = u.username),
                        // Enter on a chosen name signs in, as in the text fields.
                        keydown: (e) => {
                          if (e.key !== "Enter") return;
                          e.preventDefault();
                          this.selectedUser = u.username;
                          void this.submit();
                        },
                      },
                    }),
                    h(
                      "label",
                      {
                        for: userId(u.username),
                        on: {
                          dblclick: () => {
                            this.selectedUser = u.username;
                            void this.submit();
                          },
                        },
                      },
                      h("span", { class: "choice-main" }, u.full_name || u.username),
                      " ",
                      h("span", { class: "choice-detail" }, u.username),
                    ),
                  ),
                ),
              );
    return h(
      "fieldset",
      {
        class: "choices",
        id: FIELD.users,
        "aria-busy": this.usersState === "loading" ? "true" : false,
      },
      h("legend", {}, t.loginUsersLegend),
      list,
    );
  }
}

function userId(username: string): string {
  return `login-user--${username.replace(/\s/g, "_")}`;
}
