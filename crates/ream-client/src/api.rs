//! The server's REST API and push channel, typed. Errors come back as [`ClientError`]:
//! the server's `{code, message}` as `Server`, no answer as `Unreachable`, a refused
//! certificate as `CertificateChanged`/`CertificateUntrusted`.

use std::time::Duration;

use ream_wire::{
    AccountView, ApiError, DirectoryPage, EnrolRequest, EnrolResponse, Job, JobAnswer, JobDialog, JobList,
    JobSubmission, LoginPolicy, LoginRequest, NewPin, RefreshRequest, SessionTokens, TransactionPage,
    WorkstationProof, API_PREFIX, JOB_HEADER, WORKSTATION_PROOF_HEADER,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::error::{ClientError, Result};
use crate::tls::{self, TlsContext, Trust};

pub type PushSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    tls: Option<TlsContext>,
    pinned: Option<String>,
}

impl Api {
    /// A client for `base` (`https://…` or `http://…`) trusting as told.
    pub fn new(base: &str, trust: &Trust) -> Result<Api> {
        let base = base.trim_end_matches('/').to_string();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("ream/", env!("CARGO_PKG_VERSION")));
        let tls = if base.starts_with("https://") {
            let ctx = tls::context(trust)?;
            builder = builder.use_preconfigured_tls((*ctx.config).clone());
            Some(ctx)
        } else if base.starts_with("http://") {
            None
        } else {
            return Err(ClientError::Config(format!("{base:?} is not an http:// or https:// URL")));
        };
        let http = builder.build().map_err(|e| ClientError::Config(format!("HTTP client: {e}")))?;
        let pinned = match trust {
            Trust::Pinned(p) => Some(p.clone()),
            _ => None,
        };
        Ok(Api { base, http, tls, pinned })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The fingerprint of the certificate the server last presented (HTTPS only).
    pub fn presented_fingerprint(&self) -> Option<String> {
        self.tls.as_ref().and_then(|t| t.presented())
    }

    fn transport_error(&self, e: &(dyn std::error::Error + 'static)) -> ClientError {
        if tls::is_certificate_error(e) {
            if let Some(pinned) = &self.pinned {
                let presented = self.presented_fingerprint().unwrap_or_else(|| "unknown".into());
                return ClientError::CertificateChanged { pinned: pinned.clone(), presented };
            }
            return ClientError::CertificateUntrusted(chain(e));
        }
        if tls::is_not_tls(e) {
            return ClientError::Config(format!(
                "{} does not speak HTTPS (a plain-HTTP server answered): connect to http://{} instead, \
                 or ask the administrator for the server's HTTPS address",
                self.base,
                self.base.trim_start_matches("https://")
            ));
        }
        ClientError::Unreachable(chain(e))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&(impl Serialize + ?Sized)>,
        proof: Option<&WorkstationProof>,
    ) -> Result<T> {
        let mut req = self.http.request(method, format!("{}{API_PREFIX}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(p) = proof {
            let json = serde_json::to_string(p).map_err(|e| ClientError::Protocol(e.to_string()))?;
            req = req.header(WORKSTATION_PROOF_HEADER, json);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        Self::answer(resp, self).await
    }

    async fn answer<T: DeserializeOwned>(resp: reqwest::Response, api: &Api) -> Result<T> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| api.transport_error(&e))?;
        if status.is_success() {
            let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
            return serde_json::from_slice(bytes)
                .map_err(|e| ClientError::Protocol(format!("{status}: {e}")));
        }
        match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(e) => Err(ClientError::Server(e)),
            // Something that is not our server answered (a proxy, a stopped upstream).
            Err(_) => Err(ClientError::Unreachable(format!("HTTP {status} without a Ream answer"))),
        }
    }

    pub async fn policy(&self) -> Result<LoginPolicy> {
        self.call(Method::GET, "/auth/policy", None, None::<&()>, None).await
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<SessionTokens> {
        self.call(Method::POST, "/auth/login", None, Some(req), None).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens> {
        let body = RefreshRequest { refresh_token: refresh_token.into() };
        self.call(Method::POST, "/auth/refresh", None, Some(&body), None).await
    }

    pub async fn logout(&self, access_token: &str) -> Result<()> {
        self.call::<serde_json::Value>(Method::POST, "/auth/logout", Some(access_token), None::<&()>, None)
            .await?;
        Ok(())
    }

    pub async fn me(&self, access_token: &str) -> Result<AccountView> {
        self.call(Method::GET, "/me", Some(access_token), None::<&()>, None).await
    }

    pub async fn transactions(&self, access_token: &str, limit: u32) -> Result<TransactionPage> {
        let path = format!("/me/transactions?limit={limit}");
        self.call(Method::GET, &path, Some(access_token), None::<&()>, None).await
    }

    pub async fn new_pin(&self, access_token: &str) -> Result<NewPin> {
        self.call(Method::POST, "/me/pin", Some(access_token), None::<&()>, None).await
    }

    pub async fn directory(&self, search: &str, proof: &WorkstationProof) -> Result<DirectoryPage> {
        let path = format!("/directory?q={}", encode_query(search));
        self.call(Method::GET, &path, None, None::<&()>, Some(proof)).await
    }

    /// Submits a document, streamed (from the spool, decrypted on the way).
    pub async fn submit_job<S>(&self, access_token: &str, job: &JobSubmission, document: S) -> Result<Job>
    where
        S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        let header = ascii_json(job)?;
        let resp = self
            .http
            .post(format!("{}{API_PREFIX}/jobs", self.base))
            .bearer_auth(access_token)
            .header(JOB_HEADER, header)
            .header("content-type", "application/pdf")
            .timeout(Duration::from_secs(3_600))
            .body(reqwest::Body::wrap_stream(document))
            .send()
            .await
            .map_err(|e| match self.transport_error(&e) {
                // Connected, then no answer: the server may have made the job.
                ClientError::Unreachable(reason) if !e.is_connect() => ClientError::AnswerLost(reason),
                other => other,
            })?;
        // Something else answered (a proxy): only "no server available" (503) says the
        // request went no further.
        let status = resp.status();
        Self::answer(resp, self).await.map_err(|e| match e {
            ClientError::Unreachable(reason) if status != reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                ClientError::AnswerLost(reason)
            }
            other => other,
        })
    }

    /// What the user's client keeps to work while the server cannot be reached.
    pub async fn offline_terms(&self, access_token: &str) -> Result<ream_wire::OfflineTerms> {
        self.call(Method::GET, "/me/offline", Some(access_token), None::<&()>, None).await
    }

    /// The local print monitoring policy and the key that signs grants (public).
    pub async fn local_monitoring(&self) -> Result<ream_wire::LocalMonitoringInfo> {
        self.call(Method::GET, "/local-monitoring", None, None::<&()>, None).await
    }

    /// What the user's local jobs may do offline, signed for Ream's CUPS backend.
    pub async fn local_terms(&self, access_token: &str) -> Result<ream_wire::LocalTerms> {
        self.call(Method::GET, "/me/local-terms", Some(access_token), None::<&()>, None).await
    }

    /// Asks the server to price, charge and grant a job held on a monitored local queue.
    pub async fn authorise_local(
        &self,
        access_token: &str,
        req: &ream_wire::LocalJobRequest,
    ) -> Result<ream_wire::LocalAuthorised> {
        self.call(Method::POST, "/me/local-jobs", Some(access_token), Some(req), None).await
    }

    /// Replays journal entries; each is answered.
    pub async fn journal(
        &self,
        workstation_id: &str,
        batch: &ream_wire::JournalBatch,
    ) -> Result<ream_wire::JournalReceipt> {
        let path = format!("/workstations/{}/journal", encode_query(workstation_id));
        self.call(Method::POST, &path, None, Some(batch), None).await
    }

    /// The queues and how each identifies its users (public).
    pub async fn queues(&self) -> Result<ream_wire::QueueInfoList> {
        self.call(Method::GET, "/queues", None, None::<&()>, None).await
    }

    pub async fn jobs(&self, access_token: &str) -> Result<JobList> {
        self.call(Method::GET, "/me/jobs", Some(access_token), None::<&()>, None).await
    }

    pub async fn release_job(&self, access_token: &str, id: &str, printer: Option<&str>) -> Result<Job> {
        let path = format!("/me/jobs/{}/release", encode_query(id));
        let body = serde_json::json!({ "printer": printer });
        self.call(Method::POST, &path, Some(access_token), Some(&body), None).await
    }

    pub async fn delete_job(&self, access_token: &str, id: &str) -> Result<Job> {
        let path = format!("/me/jobs/{}", encode_query(id));
        self.call(Method::DELETE, &path, Some(access_token), None::<&()>, None).await
    }

    pub async fn job_dialog(&self, access_token: &str, id: &str) -> Result<JobDialog> {
        let path = format!("/me/jobs/{}/dialog", encode_query(id));
        self.call(Method::GET, &path, Some(access_token), None::<&()>, None).await
    }

    pub async fn answer_job(&self, access_token: &str, id: &str, answer: &JobAnswer) -> Result<Job> {
        let path = format!("/me/jobs/{}/answer", encode_query(id));
        self.call(Method::POST, &path, Some(access_token), Some(answer), None).await
    }

    pub async fn enrol(&self, req: &EnrolRequest) -> Result<EnrolResponse> {
        self.call(Method::POST, "/workstations/enrol", None, Some(req), None).await
    }

    /// Reports how a job this client kept went at the printer.
    pub async fn report_outcome(
        &self,
        access_token: &str,
        id: &str,
        report: &ream_wire::DeliveryReport,
    ) -> Result<Job> {
        let path = format!("/me/jobs/{}/outcome", encode_query(id));
        self.call(Method::POST, &path, Some(access_token), Some(report), None).await
    }

    /// Opens the session's push channel, as the client `holder` that keeps documents.
    pub async fn push(&self, access_token: &str, holder: &str) -> Result<PushSocket> {
        let url = format!(
            "{}{API_PREFIX}/me/events?holder={}",
            self.base.replacen("http", "ws", 1),
            encode_query(holder)
        );
        let mut req = url.into_client_request().map_err(|e| ClientError::Config(e.to_string()))?;
        let auth =
            format!("Bearer {access_token}").parse().map_err(|_| ClientError::Protocol("token".into()))?;
        req.headers_mut().insert("authorization", auth);
        let connector = match &self.tls {
            Some(ctx) => tokio_tungstenite::Connector::Rustls(ctx.config.clone()),
            None => tokio_tungstenite::Connector::Plain,
        };
        match tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector)).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let body = resp.body().as_deref().unwrap_or_default();
                match serde_json::from_slice::<ApiError>(body) {
                    Ok(e) => Err(ClientError::Server(e)),
                    Err(_) => {
                        Err(ClientError::Unreachable(format!("push channel refused: HTTP {}", resp.status())))
                    }
                }
            }
            Err(e) => Err(self.transport_error(&e)),
        }
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// JSON with every character past ASCII written as a `\uXXXX` escape: the same value to
/// any JSON reader, and a valid HTTP header value whatever language the job's name is in.
fn ascii_json<T: serde::Serialize>(value: &T) -> Result<String> {
    let json = serde_json::to_string(value).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_job_description_in_any_language_is_a_valid_header_and_the_same_json() {
        let job =
            ream_wire::JobSubmission { name: "Résumé – 履歴書 📄.pdf".into(), ..Default::default() };
        let header = super::ascii_json(&job).unwrap();
        assert!(header.bytes().all(|b| (0x20..0x7f).contains(&b)), "{header}");
        assert!(reqwest::header::HeaderValue::from_str(&header).is_ok());
        let back: ream_wire::JobSubmission = serde_json::from_str(&header).unwrap();
        assert_eq!(back.name, job.name);
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(super::encode_query("Alice M&rtin/é"), "Alice%20M%26rtin%2F%C3%A9");
    }
}
