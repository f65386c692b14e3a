//! A small DOM builder. Everything is built with createElement and textContent: no
//! innerHTML, no inline styles (the window's CSP forbids them).

type Primitive = string | number | boolean | null | undefined;

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string | null | (string | false | null | undefined)[];
  testid?: string;
  /** DOM properties set directly (value, checked, disabled, ...). */
  props?: Record<string, unknown>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  [attribute: string]: unknown;
}

/** `h("button", { type: "button", on: { click } }, "Save")` */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") {
      const names = Array.isArray(value) ? value.filter(Boolean).join(" ") : (value as string);
      if (names) el.className = names;
    } else if (key === "testid") {
      if (value) el.dataset.testid = value as string;
    } else if (key === "props") {
      Object.assign(el, value as object);
    } else if (key === "on") {
      for (const [name, handler] of Object.entries(value as Record<string, EventListener>)) {
        if (handler) el.addEventListener(name, handler);
      }
    } else {
      const v = value as Primitive;
      if (v === false || v === null || v === undefined) continue;
      el.setAttribute(key, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces `parent`'s content with `child`, keeping keyboard focus (and the caret) on the
 *  element with the same id or test id, so a re-render never steals the user's place. */
export function replaceKeepingFocus(parent: HTMLElement, ...children: Child[]): void {
  const active = document.activeElement;
  let key: { id: string; testid: string } | null = null;
  let selection: [number | null, number | null] | null = null;
  if (active instanceof HTMLElement && parent.contains(active)) {
    key = active.id || active.dataset.testid ? { id: active.id, testid: active.dataset.testid ?? "" } : null;
    if (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement) {
      try {
        selection = [active.selectionStart, active.selectionEnd];
      } catch {
        selection = null;
      }
    }
  }
  parent.replaceChildren();
  append(parent, children);
  if (key === null) return;
  const wanted = key;
  const again = Array.from(parent.querySelectorAll<HTMLElement>("[id], [data-testid]")).find((el) =>
    wanted.id ? el.id === wanted.id : el.dataset.testid === wanted.testid,
  );
  if (!again) return;
  again.focus({ preventScroll: true });
  if (selection && (again instanceof HTMLInputElement || again instanceof HTMLTextAreaElement)) {
    try {
      if (selection[0] !== null && selection[1] !== null) again.setSelectionRange(selection[0], selection[1]);
    } catch {
      // Inputs without a caret (number, checkbox) refuse selections: nothing to restore.
    }
  }
}

/** Focusable elements inside `root`, in tab order of the document. */
/** A layer showing one modal dialog at a time over `background`, which stays inert while
 *  any layer shows one; when the dialog closes, focus goes back where it was (or to
 *  `focusFallback`). */
export class ModalLayer {
  private shown: string | null = null;
  private returnFocus: Element | null = null;

  constructor(
    private readonly layer: HTMLElement,
    private readonly background: HTMLElement,
    private readonly focusFallback: () => void,
  ) {}

  /** Shows `dialog`, the one for `key`; true when it was not shown before (its title
   *  should take focus). */
  show(key: string, dialog: HTMLElement): boolean {
    const fresh = this.shown !== key;
    if (this.shown === null) {
      const active = document.activeElement;
      this.returnFocus = active && this.background.contains(active) ? active : null;
    }
    this.shown = key;
    this.background.setAttribute("inert", "");
    replaceKeepingFocus(this.layer, h("div", { class: "overlay" }, dialog));
    return fresh;
  }

  close(): void {
    const wasShown = this.shown !== null;
    this.shown = null;
    this.layer.replaceChildren();
    if (!wasShown) return;
    if (!this.background.ownerDocument.querySelector(".overlay")) this.background.removeAttribute("inert");
    const back = this.returnFocus;
    this.returnFocus = null;
    if (back instanceof HTMLElement && back.isConnected && back !== document.body) back.focus();
    else this.focusFallback();
  }
}

/** A modal dialog's keys: Escape calls `onEscape`; Tab and Shift+Tab stay inside it. */
export function dialogKeys(onEscape: () => void): (e: KeyboardEvent) => void {
  return (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onEscape();
    } else if (e.key === "Tab") {
      const dialog = e.currentTarget as HTMLElement;
      const items = focusables(dialog);
      const first = items[0];
      const last = items[items.length - 1];
      if (!first || !last) return;
      if (e.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };
}

export function focusables(root: HTMLElement): HTMLElement[] {
  const selector =
    'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  return Array.from(root.querySelectorAll<HTMLElement>(selector)).filter((el) => !el.closest("[hidden]"));
}
