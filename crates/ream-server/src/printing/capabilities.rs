//! What a printer can really print, so that a job is priced as it will print: a printer
//! without colour prints a colour job in mono, one without a duplex unit one-sided, one
//! without the paper asked for on its default. Asked at submission (so the price shown is
//! the price charged) and again at delivery (the printer may have changed meanwhile).
//! Kept a few minutes per printer; a printer that does not answer within a few seconds
//! leaves the job priced as asked, the most it can cost, and delivery settles it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ream_print::printer::{self as ipp_printer, Capabilities};

use crate::store::PrinterRow;

/// How long an answer is kept.
const KEPT: Duration = Duration::from_secs(300);
/// How long a submission waits for a printer that is slow to answer.
const PATIENCE: Duration = Duration::from_secs(3);

/// Printers by URI and pinned certificate: when asked, and what they said (`None`: they
/// did not answer, and are not asked again for a little while).
type Known = HashMap<Key, (Instant, Option<Capabilities>)>;

/// A printer: its URI and pinned certificate.
type Key = (String, Option<String>);

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
/// patience; `None` when it cannot say now. However many submissions find nothing known
/// at once, the printer is asked once and the others take that answer (a printer slow
/// to answer was asked by every submission of those seconds, each on a connection of
/// its own).
pub async fn known(printer: &PrinterRow) -> Option<Capabilities> {
    let key = (printer.uri.clone(), printer.fingerprint.clone());
    if let Some(caps) = kept(&key) {
        return caps;
    }
    let turn = askers().lock().expect("lock").entry(key.clone()).or_default().clone();
    let _turn = turn.lock().await;
    // Asked while this one waited its turn?
    if let Some(caps) = kept(&key) {
        return caps;
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

/// What is known of the printer, if it is recent: `Some(None)` for a printer that did not
/// answer lately.
fn kept(key: &Key) -> Option<Option<Capabilities>> {
    let known = cache().lock().expect("lock");
    let (at, caps) = known.get(key)?;
    let kept = if caps.is_some() { KEPT } else { SILENT_KEPT };
    (at.elapsed() < kept).then(|| caps.clone())
}

/// One lock per printer, held by whoever asks it at submission.
fn askers() -> &'static Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>> {
    static ASKERS: OnceLock<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    ASKERS.get_or_init(Mutex::default)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A printer that takes connections and never answers, counting them.
    async fn silent_printer() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("ipp://{}/ipp/print", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = seen.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        (uri, seen)
    }

    #[tokio::test]
    async fn submissions_at_once_ask_a_silent_printer_once() {
        let (uri, seen) = silent_printer().await;
        let price = ream_wire::PriceList {
            name: "Standard".into(),
            mono_page_cents: 5,
            colour_page_cents: 20,
            duplex_page_discount_cents: 1,
        };
        let printer = PrinterRow { id: "p".into(), name: "Slow".into(), uri, price, fingerprint: None };
        let asked: Vec<_> = (0..20).map(|_| known(&printer)).collect();
        let answers = futures_util::future::join_all(asked).await;
        assert!(answers.iter().all(Option::is_none), "nothing known of a printer that never answers");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1, "asked once, not once per submission");
        // And not asked again for a while.
        assert!(known(&printer).await.is_none());
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
