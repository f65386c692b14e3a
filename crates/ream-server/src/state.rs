//! What every request handler shares: one value, built once, passed to axum's router.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::push::Hub;
use crate::secrets::ServerKey;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub key: ServerKey,
    /// Encrypts the documents in the spool (`spool.key` in the data directory).
    pub spool_key: ream_print::spool::SpoolKey,
    /// Where the spooled documents are kept.
    pub documents: crate::documents::Documents,
    pub hub: Arc<Hub>,
    /// This run as a deliverer of print jobs (`printing::delivery`).
    pub delivery: Arc<crate::printing::DeliveryRun>,
}

impl AppState {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
