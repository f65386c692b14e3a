//! Local print monitoring: jobs on a workstation's own CUPS queues (a USB printer, a
//! network printer added straight into CUPS) counted, authorised and charged.
//!
//! Ream's CUPS backend wraps each monitored queue's device. For every job it counts the
//! document, asks the job owner's client, which asks the server; the server prices the
//! job by its local price list, takes the funds and signs a [`LocalGrant`] that the
//! backend checks against its own count before the job goes to the device. A user's own
//! client can ask, never forge: only the server's key signs.

use serde::{Deserialize, Serialize};

// Length-prefixed fields, as the journal's: no two different messages share their bytes.
use crate::offline::field;

/// What a monitored queue's jobs do while the workstation cannot reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocalOfflinePolicy {
    /// Printed; the client journals it and reports it when the server is back, and it is
    /// charged then (below zero if need be).
    PrintAndReport,
    /// Printed only for a user the server marked unrestricted (a cost centre pays for
    /// them, no quota); everyone else's job waits.
    PrintIfUnrestricted,
    /// Nothing prints: the job waits, held, until the server answers again.
    #[default]
    Refuse,
}

/// Which count a local job is charged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocalChargeBy {
    /// Ream's own count of the document, known before it prints.
    #[default]
    Document,
    /// What CUPS or the printer reports once the job completed (`job-impressions-completed`),
    /// where it reports anything; Ream's count otherwise.
    Printer,
}

/// The administrator's monitoring policy, as `GET /api/v1/local-monitoring` gives it to
/// workstations (no secret in it: `ream cups monitor`, run by root, reads it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalMonitoring {
    /// Whether workstations monitor anything at all.
    pub enabled: bool,
    /// The CUPS queue names monitored; empty: every local queue but Ream's own.
    #[serde(default)]
    pub queues: Vec<String>,
    #[serde(default)]
    pub offline: LocalOfflinePolicy,
    #[serde(default)]
    pub charge_by: LocalChargeBy,
    /// The price list of a local printer that has none of its own.
    #[serde(default)]
    pub price_list: Option<String>,
}

impl LocalMonitoring {
    /// Whether the CUPS queue `name` is monitored.
    pub fn monitors(&self, name: &str) -> bool {
        self.enabled && (self.queues.is_empty() || self.queues.iter().any(|q| q == name))
    }
}

/// `GET /api/v1/local-monitoring`: the policy and the public key that signs grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalMonitoringInfo {
    pub monitoring: LocalMonitoring,
    /// Base64 Ed25519 public key of the server's grants and terms.
    pub grant_key: String,
}

/// `POST /api/v1/me/local-jobs`: a job held on a monitored queue, as the client read it
/// from CUPS and Ream's backend counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalJobRequest {
    pub workstation_id: String,
    /// The CUPS queue and its real device.
    pub cups_queue: String,
    pub device_uri: String,
    /// The CUPS job's UUID: the same job asked about twice is one job, charged once.
    pub job_uuid: String,
    pub name: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: String,
    /// SHA-256 (hex) of the bytes that go to the device.
    pub sha256: String,
    /// The backend's single-use nonce (hex).
    pub nonce: String,
}

/// The server's word that a local job may print: signed over [`LocalGrant::signed_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalGrant {
    pub job_id: String,
    pub job_uuid: String,
    pub nonce: String,
    pub sha256: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub price_cents: i64,
    /// Base64 Ed25519 signature.
    pub signature: String,
}

impl LocalGrant {
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"ream-local-grant-v1\n".to_vec();
        for f in [&self.job_id, &self.job_uuid, &self.nonce, &self.sha256] {
            field(&mut out, f);
        }
        for n in [self.pages, self.copies, self.colour as i64, self.price_cents] {
            field(&mut out, &n.to_string());
        }
        out
    }
}

/// `POST /api/v1/me/local-jobs` answer: the job as the user's history shows it, and the
/// grant for the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalAuthorised {
    pub job: crate::Job,
    pub grant: LocalGrant,
}

/// What the server lets a user's local jobs do offline, signed so that the backend can
/// believe the client that shows it (`GET /api/v1/me/local-terms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalTerms {
    pub user: String,
    pub offline: LocalOfflinePolicy,
    /// Nothing the client cannot check limits this user's local jobs.
    pub unrestricted: bool,
    pub issued_at_ms: i64,
    /// Base64 Ed25519 signature over [`LocalTerms::signed_bytes`].
    pub signature: String,
}

impl LocalTerms {
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"ream-local-terms-v1\n".to_vec();
        let offline = match self.offline {
            LocalOfflinePolicy::PrintAndReport => "print_and_report",
            LocalOfflinePolicy::PrintIfUnrestricted => "print_if_unrestricted",
            LocalOfflinePolicy::Refuse => "refuse",
        };
        for f in [self.user.as_str(), offline, if self.unrestricted { "1" } else { "0" }] {
            field(&mut out, f);
        }
        field(&mut out, &self.issued_at_ms.to_string());
        out
    }

    /// Whether a job may print now, offline, under these terms.
    pub fn prints_offline(&self) -> bool {
        match self.offline {
            LocalOfflinePolicy::PrintAndReport => true,
            LocalOfflinePolicy::PrintIfUnrestricted => self.unrestricted,
            LocalOfflinePolicy::Refuse => false,
        }
    }
}

/// A local printer as administrators see it: `queue@workstation`, recorded on its first job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalPrinter {
    pub name: String,
    pub workstation_id: String,
    pub cups_queue: String,
    pub device_uri: String,
    /// Its own price list; none: the policy's.
    pub price_list: Option<String>,
    pub first_job_at_ms: i64,
}

/// What Ream's CUPS backend asks the job owner's client (over the client's agent socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPrintAsk {
    pub cups_job_id: i64,
    pub cups_queue: String,
    pub device_uri: String,
    pub job_uuid: String,
    pub name: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: String,
    pub sha256: String,
    pub nonce: String,
}

/// The client's answer to the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LocalVerdict {
    /// The server authorised it.
    Granted { grant: LocalGrant },
    /// The server cannot be reached; the client journaled the job and these terms say
    /// whether it prints meanwhile.
    Offline { terms: LocalTerms },
    /// The server refused it (not enough credit…): cancelled, the user told why.
    Refused { reason: String },
    /// Nobody can decide now (nobody logged in, no terms yet): the job waits, held.
    Wait { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> LocalGrant {
        LocalGrant {
            job_id: "j".into(),
            job_uuid: "urn:uuid:1".into(),
            nonce: "00".into(),
            sha256: "ab".into(),
            pages: 3,
            copies: 1,
            colour: false,
            price_cents: 30,
            signature: String::new(),
        }
    }

    #[test]
    fn grant_bytes_bind_every_field() {
        let base = grant().signed_bytes();
        type Change = Box<dyn Fn(&mut LocalGrant)>;
        let changes: Vec<Change> = vec![
            Box::new(|g| g.job_id = "k".into()),
            Box::new(|g| g.job_uuid = "urn:uuid:2".into()),
            Box::new(|g| g.nonce = "01".into()),
            Box::new(|g| g.sha256 = "cd".into()),
            Box::new(|g| g.pages = 1),
            Box::new(|g| g.copies = 2),
            Box::new(|g| g.colour = true),
            Box::new(|g| g.price_cents = 0),
        ];
        for change in changes {
            let mut g = grant();
            change(&mut g);
            assert_ne!(g.signed_bytes(), base);
        }
    }

    #[test]
    fn queues_monitored_are_all_or_those_named() {
        let mut m = LocalMonitoring::default();
        assert!(!m.monitors("Office"), "off by default");
        m.enabled = true;
        assert!(m.monitors("Office"));
        m.queues = vec!["Lab".into()];
        assert!(!m.monitors("Office") && m.monitors("Lab"));
    }

    #[test]
    fn offline_terms_decide_by_policy() {
        let mut t = LocalTerms {
            user: "alice".into(),
            offline: LocalOfflinePolicy::PrintIfUnrestricted,
            unrestricted: false,
            issued_at_ms: 1,
            signature: String::new(),
        };
        assert!(!t.prints_offline());
        t.unrestricted = true;
        assert!(t.prints_offline());
        t.offline = LocalOfflinePolicy::Refuse;
        assert!(!t.prints_offline());
        t.offline = LocalOfflinePolicy::PrintAndReport;
        t.unrestricted = false;
        assert!(t.prints_offline());
    }
}
