//! The client's settings file and its local directories.
//!
//! `$REAM_CONFIG` or `$XDG_CONFIG_HOME/ream/client.toml` (`~/.config/…`) holds what the
//! user or the installer chose (server, trust, remember-me allowed) and what enrolment
//! recorded (the workstation id; its key is in the OS keyring). An administrator may
//! set the install-time settings in `/etc/ream/client.toml`: what it sets of the server,
//! its trust (`ca_file`, `pinned_fingerprint`) and `remember_me` is fixed there (see
//! [`Locked`]); the user's file has the rest. `http://` goes only to a server on this
//! computer unless `/etc` sets `allow_insecure_http = true`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `https://host:port` (or `http://` on loopback).
    pub server: Option<String>,
    /// A PEM file of CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of the server certificate accepted at first connection.
    pub pinned_fingerprint: Option<String>,
    /// Install-time: may users ask to be remembered? When false, remember-me is not
    /// offered and a login lasts until logout or the end of the process.
    pub remember_me: bool,
    /// Set by enrolment.
    pub workstation_id: Option<String>,
    /// The loopback port of the local IPP printer (`ream run`, the desktop app); 0: any
    /// free port, as on a computer shared by several people, whose clients cannot all
    /// have the same (their jobs come through `ream cups install --shared`).
    pub ipp_port: u16,
    /// The server queue jobs go to; the server's only queue when absent.
    pub queue: Option<String>,
    /// How long a job printed while nobody is logged in waits for a login.
    pub login_wait_seconds: u64,
    /// The desktop's language, `"en"` or `"fr"`; absent: the operating system's locale.
    pub language: Option<String>,
    /// Credit below this many cents is low: the user is warned once when it falls below.
    pub low_credit_cents: i64,
    /// Install-time, from `/etc/ream/client.toml` only: `http://` to a server that is
    /// not on this computer (a test lab; never where passwords travel).
    pub allow_insecure_http: bool,
    /// What `/etc/ream/client.toml` fixed; from no file.
    #[serde(skip)]
    pub locked: Locked,
}

/// The settings an administrator fixed in `/etc/ream/client.toml`: the user's file
/// cannot change them, nor can `connect`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Locked {
    /// `server` is set there.
    pub server: bool,
    /// The server's trust: fixed when `server`, `ca_file` or `pinned_fingerprint` is set
    /// there (a user accepting another certificate would undo it).
    pub trust: bool,
    pub remember_me: bool,
}

impl Locked {
    fn of(system: &toml::Table) -> Locked {
        let has = |k: &str| system.contains_key(k);
        Locked {
            server: has("server"),
            trust: has("server") || has("ca_file") || has("pinned_fingerprint"),
            remember_me: has("remember_me"),
        }
    }

    /// The keys the user's file may not set.
    fn keys(&self) -> Vec<&'static str> {
        let mut keys = vec!["allow_insecure_http"];
        if self.server {
            keys.push("server");
        }
        if self.trust {
            keys.extend(["ca_file", "pinned_fingerprint"]);
        }
        if self.remember_me {
            keys.push("remember_me");
        }
        keys
    }
}

/// Refuses a server address the client must not use: anything but `https://`, save
/// `http://` to this computer (or anywhere, where `/etc` allows it).
pub fn check_server_url(url: &str, allow_insecure_http: bool) -> Result<()> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(ClientError::Config(format!("{url} is not a server address: https://host:port")));
    };
    match scheme {
        "https" => Ok(()),
        "http" => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
            let host = if let Some(v6) = authority.strip_prefix('[') {
                v6.split(']').next().unwrap_or_default()
            } else {
                authority.split(':').next().unwrap_or_default()
            };
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback || allow_insecure_http {
                Ok(())
            } else {
                Err(ClientError::Config(format!(
                    "{url}: http:// would send passwords and PINs unencrypted; use https:// (an administrator \
                     may allow it with allow_insecure_http = true in {SYSTEM_SETTINGS})"
                )))
            }
        }
        _ => Err(ClientError::Config(format!("{url}: the server is reached over https://"))),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: None,
            ca_file: None,
            pinned_fingerprint: None,
            remember_me: true,
            workstation_id: None,
            ipp_port: 8632,
            queue: None,
            login_wait_seconds: 120,
            language: None,
            low_credit_cents: 100,
            allow_insecure_http: false,
            locked: Locked::default(),
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(fallback))
}

/// The languages the desktop speaks.
pub const LANGUAGES: [&str; 2] = ["en", "fr"];

/// The language to speak: the chosen one, else the locale's (`LC_ALL`, `LC_MESSAGES`,
/// `LANG` as POSIX orders them, e.g. `fr_FR.UTF-8`) when it is one of [`LANGUAGES`],
/// else English.
pub fn effective_language(chosen: Option<&str>, locale: impl Fn(&str) -> Option<String>) -> &'static str {
    let from_locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|var| locale(var))
        .find(|value| !value.is_empty())
        .map(|value| {
            value.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase()
        });
    let wanted = chosen.map(str::to_string).or(from_locale);
    LANGUAGES.into_iter().find(|l| wanted.as_deref() == Some(*l)).unwrap_or("en")
}

/// Where the settings file lives.
pub fn settings_path() -> PathBuf {
    std::env::var_os("REAM_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| xdg("XDG_CONFIG_HOME", ".config").join("ream/client.toml"))
}

/// Where the engine may keep non-secret state between runs.
pub fn cache_dir() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache").join("ream")
}

const SYSTEM_SETTINGS: &str = "/etc/ream/client.toml";

impl Settings {
    /// The system presets overlaid by the user's file; defaults where neither exists.
    pub fn load() -> Result<Settings> {
        Self::load_from(Path::new(SYSTEM_SETTINGS), &settings_path())
    }

    pub fn load_from(system: &Path, user: &Path) -> Result<Settings> {
        let read = |path: &Path| -> Result<toml::Table> {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    toml::from_str(&text).map_err(|e| ClientError::Config(format!("{}: {e}", path.display())))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
                Err(e) => Err(ClientError::Config(format!("{}: {e}", path.display()))),
            }
        };
        let mut merged = read(system)?;
        let locked = Locked::of(&merged);
        let mut own = read(user)?;
        for key in locked.keys() {
            if let Some(value) = own.remove(key) {
                if merged.get(key) != Some(&value) {
                    tracing::warn!(setting = key, file = %user.display(),
                        "ignored: {SYSTEM_SETTINGS} sets it, or only it may");
                }
            }
        }
        merged.extend(own);
        let mut settings: Settings =
            merged.try_into().map_err(|e| ClientError::Config(format!("client settings: {e}")))?;
        settings.locked = locked;
        Ok(settings)
    }

    pub fn save(&self) -> Result<()> {
        self.save_to(&settings_path())
    }

    pub fn save_to(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // What /etc fixes is not the user's to keep: it would only shadow a later change there.
        let mut table = toml::Table::try_from(self).map_err(|e| ClientError::Config(e.to_string()))?;
        for key in self.locked.keys() {
            table.remove(key);
        }
        let text = toml::to_string_pretty(&table).map_err(|e| ClientError::Config(e.to_string()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The server URL without a trailing slash.
    pub fn server_url(&self) -> Result<String> {
        self.server.as_deref().map(|s| s.trim_end_matches('/').to_string()).ok_or(ClientError::NotConfigured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_file_overrides_the_presets_that_are_not_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(&system, "queue = \"Secure\"\nlow_credit_cents = 500\n").unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert_eq!((s.queue.as_deref(), s.low_credit_cents), (Some("Secure"), 500));
        std::fs::write(&user, "queue = \"Direct\"\nserver = \"https://other.example\"\n").unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert_eq!(
            (s.queue.as_deref(), s.server.as_deref()),
            (Some("Direct"), Some("https://other.example"))
        );
        assert_eq!(s.locked, Locked::default());
        std::fs::write(&user, "sever = \"typo\"\n").unwrap();
        assert!(Settings::load_from(&system, &user).is_err());
    }

    #[test]
    fn what_the_administrator_fixes_the_users_file_cannot_change() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(&system, "server = \"https://print.example:8631\"\nremember_me = false\n").unwrap();
        std::fs::write(
            &user,
            "server = \"https://evil.example\"\nremember_me = true\npinned_fingerprint = \"AA:BB\"\n\
             allow_insecure_http = true\nlanguage = \"fr\"\n",
        )
        .unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert_eq!(s.server.as_deref(), Some("https://print.example:8631"));
        assert!(!s.remember_me && !s.allow_insecure_http && s.pinned_fingerprint.is_none());
        assert_eq!(s.language.as_deref(), Some("fr"), "the rest is the user's");
        assert_eq!(s.locked, Locked { server: true, trust: true, remember_me: true });
        // Saved, the user's file keeps only what is theirs.
        s.save_to(&user).unwrap();
        let saved = std::fs::read_to_string(&user).unwrap();
        assert!(!saved.contains("server") && !saved.contains("remember_me"), "{saved}");
        // Only /etc may allow http:// away from this computer.
        std::fs::write(&system, "allow_insecure_http = true\n").unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert!(s.allow_insecure_http && !s.locked.server);
    }

    #[test]
    fn http_goes_to_this_computer_only_unless_allowed() {
        for ok in
            ["https://print.example", "http://127.0.0.1:8631", "http://localhost:1", "http://[::1]:80/x"]
        {
            assert!(check_server_url(ok, false).is_ok(), "{ok}");
        }
        for bad in
            ["http://10.0.0.7:8631", "http://print.example", "http://127.0.0.1.evil.example", "ftp://x", "x"]
        {
            assert!(check_server_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_server_url("http://10.0.0.7:8631", true).is_ok());
        assert!(check_server_url("ftp://x", true).is_err());
    }

    #[test]
    fn language_is_the_chosen_one_else_the_locale_else_english() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| pairs.iter().find(|(k, _)| *k == var).map(|(_, v)| v.to_string())
        };
        let check = |chosen: Option<&str>, pairs: &'static [(&'static str, &'static str)], expected: &str| {
            assert_eq!(effective_language(chosen, env(pairs)), expected, "{chosen:?} {pairs:?}");
        };
        check(None, &[], "en");
        check(None, &[("LANG", "fr_FR.UTF-8")], "fr");
        check(None, &[("LANG", "fr")], "fr");
        check(None, &[("LANG", "de_DE.UTF-8")], "en");
        check(None, &[("LANG", "C.UTF-8")], "en");
        check(None, &[("LC_ALL", ""), ("LC_MESSAGES", "en_GB.UTF-8"), ("LANG", "fr_FR.UTF-8")], "en");
        check(Some("en"), &[("LANG", "fr_FR.UTF-8")], "en");
        check(Some("fr"), &[], "fr");
    }

    #[test]
    fn settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/client.toml");
        let s = Settings {
            server: Some("https://x/".into()),
            pinned_fingerprint: Some("AB:CD".into()),
            workstation_id: Some("w".into()),
            language: Some("fr".into()),
            low_credit_cents: 250,
            ..Settings::default()
        };
        s.save_to(&path).unwrap();
        assert_eq!(Settings::load_from(Path::new("/nonexistent"), &path).unwrap(), s);
        assert_eq!(s.server_url().unwrap(), "https://x");
    }
}
