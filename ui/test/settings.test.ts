import { describe, expect, it } from "vitest";
import {
  ABOUT,
  byTestId,
  clickAndFlush,
  fakeBackend,
  loggedOut,
  maybeTestId,
  start,
  submit,
  text,
  typeInto,
} from "./helpers";

const FP = "3F:A9:12:7C:44:D0:9E:BB:01:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88";

describe("settings", () => {
  it("saves the server address", async () => {
    const { backend } = await start();
    await clickAndFlush(byTestId("nav-settings"));
    const input = byTestId<HTMLInputElement>("server-url");
    expect(input.value).toBe("https://print.example.com:8631");
    expect(text(document.querySelector(`label[for="${input.id}"]`))).toBe("Server address");
    typeInto(input, "https://print.acme.test");
    await submit(byTestId("server-save"));
    expect(backend.setServer).toHaveBeenCalledWith("https://print.acme.test", null);
    expect(text(document.querySelector("#live p"))).toBe("Server set to https://print.acme.test.");
  });

  it("asks to confirm an untrusted certificate's fingerprint, then sends it", async () => {
    const backend = fakeBackend({
      setServer: async (url, fingerprint) => {
        if (fingerprint === null) {
          return Promise.reject({ code: "CERTIFICATE_UNTRUSTED", message: "untrusted", details: { fingerprint: FP } });
        }
        return { server: url, language: null, remember_me: true };
      },
    });
    await start(backend);
    await clickAndFlush(byTestId("nav-settings"));
    typeInto(byTestId("server-url"), "https://print.acme.test:8631");
    await submit(byTestId("server-save"));
    expect(text(byTestId("fingerprint-value"))).toBe(FP);
    expect(text(document.getElementById("cert-check"))).toContain("Check the server's certificate");
    expect(document.activeElement?.id).toBe("cert-check");
    // What the user typed is still there.
    expect(byTestId<HTMLInputElement>("server-url").value).toBe("https://print.acme.test:8631");
    await clickAndFlush(byTestId("accept-fingerprint"));
    expect(backend.setServer).toHaveBeenLastCalledWith("https://print.acme.test:8631", FP);
    expect(maybeTestId("fingerprint-value")).toBeNull();
  });

  it("warns when the certificate changed, without offering to accept it", async () => {
    await start(
      fakeBackend({
        setServer: async () => Promise.reject({ code: "CERTIFICATE_CHANGED", message: "changed", details: { fingerprint: FP } }),
      }),
    );
    await clickAndFlush(byTestId("nav-settings"));
    typeInto(byTestId("server-url"), "https://print.acme.test");
    await submit(byTestId("server-save"));
    expect(maybeTestId("accept-fingerprint")).toBeNull();
    expect(text(document.getElementById("server-error"))).toContain("the server's certificate has changed");
    expect(byTestId<HTMLInputElement>("server-url").value).toBe("https://print.acme.test");
  });

  it("goes on to the login once a server is set", async () => {
    let configured = false;
    const backend = fakeBackend({
      status: async () =>
        configured ? loggedOut() : loggedOut({ server: null, connection: { state: "not_configured" } }),
      setServer: async (url) => {
        configured = true;
        return { server: url, language: null, remember_me: true };
      },
    });
    await start(backend);
    expect(document.getElementById("screen-settings")).not.toBeNull();
    expect(text(document.getElementById("status-conn"))).toBe("No server configured");
    typeInto(byTestId("server-url"), "https://print.acme.test");
    await submit(byTestId("server-save"));
    expect(document.getElementById("screen-login")).not.toBeNull();
    expect(backend.loginPolicy).toHaveBeenCalled();
  });
});

describe("about", () => {
  it("shows version, server, fingerprint, workstation and OS user", async () => {
    await start();
    await clickAndFlush(byTestId("nav-about"));
    expect(text(byTestId("about-version"))).toBe(ABOUT.version);
    expect(text(byTestId("about-server"))).toBe(ABOUT.server ?? "");
    expect(text(byTestId("about-fingerprint"))).toBe(ABOUT.server_fingerprint ?? "");
    expect(text(byTestId("about-workstation"))).toBe("ws-1");
    expect(text(byTestId("about-os-user"))).toBe("amartin");
  });

  it("says when the workstation is not enrolled", async () => {
    await start(fakeBackend({ about: async () => ({ ...ABOUT, workstation_id: null, server_fingerprint: null }) }));
    await clickAndFlush(byTestId("nav-about"));
    expect(text(byTestId("about-workstation"))).toBe("Not enrolled");
    expect(text(byTestId("about-fingerprint"))).toBe("None pinned (system certificates)");
  });
});
