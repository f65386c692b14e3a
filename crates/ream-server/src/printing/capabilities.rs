//! What a printer can really print, so that a job is priced as it will print: a printer
//! without colour prints a colour job in mono, one without a duplex unit one-sided, one
//! without the paper asked for on its default. Asked at submission (so the price shown is
//! the price charged) and again at delivery (the printer may have changed meanwhile).
//! Kept a few minutes per printer; a printer that does not answer within a few seconds
//! leaves the job priced as asked, the most it can cost, and delivery settles it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ream_print::printer::{self as ipp_printer, Capabilities};

use crate::store::PrinterRow;

/// How long an answer is kept.
const KEPT: Duration = Duration::from_secs(300);
/// How long a submission waits for a printer that is slow to answer.
const PATIENCE: Duration = Duration::from_secs(3);

/// Printers by URI and pinned certificate: when asked, and what they said (`None`: they
/// did not answer, and are not asked again for a little while).
type Known = HashMap<(String, Option<String>), (Instant, Option<Capabilities>)>;

/// How long a printer that did not answer is not asked again at submission.
const SILENT_KEPT: Duration = Duration::from_secs(30);

fn cache() -> &'static Mutex<Known> {
    static CACHE: OnceLock<Mutex<Known>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The printer's capabilities, fresh from it (and kept).
pub async fn ask(printer: &PrinterRow) -> anyhow::Result<Capabilities> {
    let http = ipp_printer::http_client(printer.fingerprint.as_deref());
    let caps = ipp_printer::capabilities(&http, &printer.uri).await?;
    let key = (printer.uri.clone(), printer.fingerprint.clone());
    cache().lock().expect("lock").insert(key, (Instant::now(), Some(caps.clone())));
    Ok(caps)
}

/// The printer's capabilities as last known (a few minutes), else asked with a short
/// patience; `None` when it cannot say now.
pub async fn known(printer: &PrinterRow) -> Option<Capabilities> {
    let key = (printer.uri.clone(), printer.fingerprint.clone());
    if let Some((at, caps)) = cache().lock().expect("lock").get(&key) {
        let kept = if caps.is_some() { KEPT } else { SILENT_KEPT };
        if at.elapsed() < kept {
            return caps.clone();
        }
    }
    let answer = match tokio::time::timeout(PATIENCE, ask(printer)).await {
        Ok(Ok(caps)) => Some(caps),
        Ok(Err(e)) => {
            tracing::info!(printer = %printer.name, error = %format!("{e:#}"), "cannot ask the printer what it prints; priced as asked");
            None
        }
        Err(_) => {
            tracing::info!(printer = %printer.name, "the printer is slow to say what it prints; priced as asked");
            None
        }
    };
    if answer.is_none() {
        cache().lock().expect("lock").insert(key, (Instant::now(), None));
    }
    answer
}

/// What a job asking for `colour`, `duplex` and `media` is really printed as.
pub fn printed_as(
    caps: Option<&Capabilities>,
    colour: bool,
    duplex: bool,
    media: &str,
) -> (bool, bool, String) {
    match caps {
        Some(c) => (colour && c.colour, duplex && c.duplex, c.media_for(media).to_string()),
        None => (colour, duplex, media.to_string()),
    }
}
