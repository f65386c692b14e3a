//! The TypeScript bindings of the desktop UI (`ui/src/bindings/`), generated from these
//! types by ts-rs. The test fails when the committed files differ from what the types
//! give; `REAM_UPDATE_BINDINGS=1 cargo test -p ream-wire bindings` rewrites them.
//!
//! Every integer on the wire is a time in milliseconds or an amount in cents, far below
//! 2^53, and serde_json writes them as JSON numbers: they are `number` in TypeScript, not
//! ts-rs's default `bigint`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::TS;

use crate::*;

/// Every type the webview receives or sends, with what they refer to.
fn export(dir: &Path) {
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all_to(dir).expect(stringify!($t)); )* };
    }
    all!(
        ClientStatus,
        ClientEvent,
        LoginInput,
        LoginPolicy,
        RememberOption,
        DirectoryEntry,
        UserSummary,
        AccountView,
        TransactionPage,
        NewPin,
        QueueInfo,
        Job,
        JobDialog,
        JobAnswer,
        About,
        DesktopSettings,
        ApiError,
        FallbackOffer,
        FallbackAnswer,
        OfflineTerms,
        ClientErrorCode,
    );
}

fn generated() -> BTreeMap<String, String> {
    let dir = std::env::temp_dir().join(format!("ream-bindings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    export(&dir);
    let files =
        read_dir(&dir).into_iter().map(|(name, text)| (name, text.replace("bigint", "number"))).collect();
    let _ = std::fs::remove_dir_all(&dir);
    files
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") {
            files.insert(name, std::fs::read_to_string(entry.path()).expect("read binding"));
        }
    }
    files
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings")
}

#[test]
fn bindings_match_the_wire_types() {
    let generated = generated();
    let dir = committed_dir();
    if std::env::var_os("REAM_UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create bindings dir");
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).expect("write binding");
        }
        return;
    }
    let committed = read_dir(&dir);
    let stale: Vec<&String> =
        generated.keys().filter(|name| committed.get(*name) != generated.get(*name)).collect();
    let extra: Vec<&String> = committed.keys().filter(|name| !generated.contains_key(*name)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "ui/src/bindings is out of date (changed or missing: {stale:?}; no longer generated: {extra:?}); \
         run `REAM_UPDATE_BINDINGS=1 cargo test -p ream-wire bindings` and commit the result"
    );
}
