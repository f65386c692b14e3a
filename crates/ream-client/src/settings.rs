//! The client's settings file and its local directories.
//!
//! `$REAM_CONFIG` or `$XDG_CONFIG_HOME/ream/client.toml` (`~/.config/…`) holds what the
//! user or the installer chose (server, trust, remember-me allowed) and what enrolment
//! recorded (the workstation id; its key is in the OS keyring). An administrator may
//! preset the install-time settings in `/etc/ream/client.toml`; the user's file wins.

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
    /// The loopback port of the local IPP printer (`ream run`, the desktop app).
    pub ipp_port: u16,
    /// The server queue jobs go to; the server's only queue when absent.
    pub queue: Option<String>,
    /// How long a job printed while nobody is logged in waits for a login.
    pub login_wait_seconds: u64,
    /// The desktop's language, `"en"` or `"fr"`; absent: the operating system's locale.
    pub language: Option<String>,
    /// Credit below this many cents is low: the user is warned once when it falls below.
    pub low_credit_cents: i64,
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
        let mut merged = toml::Table::new();
        for path in [system, user] {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let table: toml::Table = toml::from_str(&text)
                        .map_err(|e| ClientError::Config(format!("{}: {e}", path.display())))?;
                    merged.extend(table);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ClientError::Config(format!("{}: {e}", path.display()))),
            }
        }
        merged.try_into().map_err(|e| ClientError::Config(format!("client settings: {e}")))
    }

    pub fn save(&self) -> Result<()> {
        self.save_to(&settings_path())
    }

    pub fn save_to(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string_pretty(self).map_err(|e| ClientError::Config(e.to_string()))?;
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
    fn user_settings_override_system_presets() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(&system, "server = \"https://print.example:8631\"\nremember_me = false\n").unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert_eq!((s.server.as_deref(), s.remember_me), (Some("https://print.example:8631"), false));
        std::fs::write(&user, "server = \"https://other.example\"\n").unwrap();
        let s = Settings::load_from(&system, &user).unwrap();
        assert_eq!((s.server.as_deref(), s.remember_me), (Some("https://other.example"), false));
        std::fs::write(&user, "sever = \"typo\"\n").unwrap();
        assert!(Settings::load_from(&system, &user).is_err());
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
