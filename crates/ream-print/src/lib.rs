//! What Ream's server and client share about documents and printers.
//!
//! - [`spool`]: documents at rest, encrypted (AES-256-GCM frames), streamed in and out
//!   in bounded memory; the server's key sits in a key file, the client's in the OS
//!   keyring.
//! - [`pdf`]: a document's page count, the leaves of its page tree, read by a reader of
//!   our own whose time and memory are bounded whatever the document.
//! - [`ipp_request`]: the bounds an IPP request is held to before it is parsed.
//! - [`printer`]: submitting a document to a printer over IPP or IPPS and following the
//!   printer's job to its end.
//! - [`tls`]: certificates pinned by their SHA-256 fingerprint (the client's server,
//!   printers on IPPS).
//!
//! Invariant: no plaintext document is ever written to a named file by this crate.

pub mod ipp_request;
pub mod pdf;
pub mod pricing;
pub mod printer;
pub mod spool;
pub mod tls;
