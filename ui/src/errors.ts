//! Errors from the Rust side, as the UI shows them. A rejected command carries
//! `{code, message, details?}`; the code is stable and picks a translated sentence, the
//! server's own message is the fallback for codes this UI does not know.

import type { ClientErrorCode } from "./bindings/ClientErrorCode";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { Messages } from "./i18n/en";

/** Codes the client itself produces (generated from `ream-wire`), beside the server's. */
export type { ClientErrorCode };

export type KnownErrorCode = ErrorCode | ClientErrorCode;

export interface BackendError {
  code: string;
  message: string;
  details?: unknown;
}

/** Whatever a rejected promise gave, as a `BackendError`. */
export function toBackendError(e: unknown): BackendError {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") {
    const o = e as { code: string; message?: unknown; details?: unknown; retry_at_ms?: unknown };
    const message = typeof o.message === "string" ? o.message : "";
    const details =
      o.details !== undefined ? o.details : o.retry_at_ms !== undefined ? { retry_at_ms: o.retry_at_ms } : undefined;
    return details === undefined ? { code: o.code, message } : { code: o.code, message, details };
  }
  if (typeof e === "string") return { code: "UNKNOWN", message: e };
  if (e instanceof Error) return { code: "UNKNOWN", message: e.message };
  return { code: "UNKNOWN", message: "" };
}

function detail(e: BackendError, key: string): unknown {
  const d = e.details;
  if (typeof d === "object" && d !== null && key in d) return (d as Record<string, unknown>)[key];
  return undefined;
}

/** For `AUTH_LOCKED`: when the lock ends, if the server said. */
export function retryAtMs(e: BackendError): number | null {
  const v = detail(e, "retry_at_ms");
  return typeof v === "number" ? v : null;
}

/** For `CERTIFICATE_UNTRUSTED` (and `CERTIFICATE_CHANGED`): the fingerprint presented. */
export function presentedFingerprint(e: BackendError): string | null {
  const v = detail(e, "fingerprint");
  return typeof v === "string" && v !== "" ? v : null;
}

function isKnown(t: Messages, code: string): code is KnownErrorCode {
  return Object.prototype.hasOwnProperty.call(t.errors, code);
}

/** The sentence to show for an error; `formatTime` renders the lock's end. */
export function errorText(t: Messages, e: BackendError, formatTime: (ms: number) => string): string {
  if (e.code === "AUTH_LOCKED") {
    const at = retryAtMs(e);
    if (at !== null) return t.errorLockedUntil(formatTime(at));
  }
  if (isKnown(t, e.code)) {
    // These say what went wrong only in the engine's own words: both are shown.
    const specific = e.code === "CONFIG" || e.code === "PROTOCOL";
    return specific && e.message !== "" ? `${t.errors[e.code]} (${e.message})` : t.errors[e.code];
  }
  return e.message !== "" ? e.message : t.errorUnknown;
}
