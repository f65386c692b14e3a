//! A document's page count, which is what its owner is charged for: the leaves of its
//! page tree, read by a reader of our own that trusts nothing in the file.
//!
//! The modules, from the bytes up: [`source`] (bounded windows of the file),
//! [`syntax`] (tokens and objects), [`decode`] (Flate and predictors, capped), [`xref`]
//! (the document's own cross-references), [`recover`] (finding objects without them),
//! [`objects`] (objects by reference, object streams included) and [`tree`] (the walk
//! that counts).
//!
//! Promises, whatever the input: the answer is the number of page leaves, or a
//! [`Refusal`] a person can read; work, inflated bytes, objects and depth are all capped
//! (the constants below), so time and memory are bounded independently of the file's
//! size, which is never held whole; nothing recurses on the input beyond [`syntax`]'s
//! nesting cap.

mod decode;
mod objects;
mod recover;
mod source;
mod syntax;
mod tree;
mod xref;

use objects::{Index, Objects};
pub(crate) use source::ReadAt;
use source::Source;

/// Deepest page tree read: real trees are a few levels deep (a balanced tree of 256
/// levels would hold more pages than exist).
const MAX_DEPTH: usize = 256;
/// Objects remembered for one document: page-tree nodes visited, objects found by a
/// recovery scan, object-stream entries indexed. A million is far past any print job.
const MAX_OBJECTS: usize = 1_000_000;
/// Bytes one stream may inflate to; cross-reference streams of a million objects need
/// about 5 MiB.
const MAX_STREAM_BYTES: usize = 16 << 20;
/// Bytes all the streams of one document may inflate to together.
const MAX_INFLATED_BYTES: usize = 64 << 20;
/// Work units (about one per byte parsed or searched, and more per read: see
/// [`source`]) granted to every document, and more per byte of file: a recovery scan
/// must be able to read a large file through, but no input may make the counter loop
/// or go quadratic.
const WORK_BASE: u64 = 256 << 20;
const WORK_PER_BYTE: u64 = 4;

/// The pages of a document: `pages` leaves of its page tree; `declared` is what the
/// tree's root says (`/Count`), which only a badly made or dishonest document makes
/// differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Count {
    pub pages: u64,
    pub declared: Option<i64>,
}

/// Why a document's pages cannot be counted, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Reading the file failed.
    Unreadable(String),
    Empty,
    NotPdf,
    /// What is wrong with it.
    Damaged(String),
    /// Its page tree cannot be read without the password.
    Encrypted,
    /// It uses a feature the counter does not read, named here.
    Unsupported(String),
    /// It goes past one of the counter's limits, named here.
    TooComplex(String),
    NoPages,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unreadable(why) => write!(f, "cannot read the document: {why}"),
            Refusal::Empty => write!(f, "the document is empty"),
            Refusal::NotPdf => write!(f, "the document is not a PDF"),
            Refusal::Damaged(what) => write!(f, "the PDF is damaged: {what}"),
            Refusal::Encrypted => {
                write!(f, "the PDF is password-protected: its pages cannot be counted without the password")
            }
            Refusal::Unsupported(what) => {
                write!(f, "the PDF uses something that cannot be read here: {what}")
            }
            Refusal::TooComplex(what) => write!(f, "the PDF is too complex to count: {what}"),
            Refusal::NoPages => write!(f, "the PDF has no pages"),
        }
    }
}

impl std::error::Error for Refusal {}

/// What is left of one document's budgets.
struct Work {
    units: u64,
    inflated: usize,
}

impl Work {
    /// The budget for a document of `len` bytes.
    fn for_len(len: usize) -> Self {
        Work { units: WORK_BASE + WORK_PER_BYTE * len as u64, inflated: 0 }
    }

    fn spend(&mut self, units: usize) -> Result<(), Refusal> {
        match self.units.checked_sub(units as u64) {
            Some(left) => self.units = left,
            None => {
                self.units = 0;
                return Err(Refusal::TooComplex(
                    "reading it takes more work than any real document needs".into(),
                ));
            }
        }
        Ok(())
    }

    fn exhausted(&self) -> bool {
        self.units == 0
    }

    fn inflated_left(&self) -> usize {
        MAX_INFLATED_BYTES - self.inflated
    }

    fn inflated(&mut self, bytes: usize) -> Result<(), Refusal> {
        self.inflated += bytes;
        self.spend(bytes)
    }
}

/// Counts the pages of the PDF in `data`.
pub fn count(data: &[u8]) -> Result<Count, Refusal> {
    count_in(&Source::new(&data, data.len()))
}

fn count_in(src: &Source) -> Result<Count, Refusal> {
    if src.len == 0 {
        return Err(Refusal::Empty);
    }
    let mut work = Work::for_len(src.len);
    // Readers accept a header a little way in (some mailers and printers prefix junk).
    if memchr::memmem::find(&src.read(0, 1024, &mut work)?, b"%PDF-").is_none() {
        return Err(Refusal::NotPdf);
    }
    // The document's own cross-references first; if they are damaged, the objects are
    // found by a scan instead. When both fail, the first reason is the one to give,
    // unless it was only that the cross-references could not be read.
    let (first, encrypted) = match xref::Xref::read(src, &mut work) {
        Ok(xref) => {
            let mut objects = Objects::new(src, Index::Xref(xref), work);
            let result = count_objects(&mut objects);
            work = objects.work;
            match result {
                Err(Refusal::Damaged(why)) => (Some(Refusal::Damaged(why)), objects.encrypted),
                done => return done.map_err(|e| blame(e, objects.encrypted)),
            }
        }
        Err(Refusal::Damaged(_)) => (None, false),
        Err(e) => return Err(e),
    };
    let recovered = recover::scan(src, &mut work)?;
    let mut objects = Objects::new(src, Index::Recovered(recovered), work);
    let encrypted = encrypted || objects.encrypted;
    let result = count_objects(&mut objects);
    result.map_err(|e| blame(first.unwrap_or(e), encrypted))
}

fn count_objects(objects: &mut Objects) -> Result<Count, Refusal> {
    let catalog = objects.root().ok_or_else(|| Refusal::Damaged("it has no catalog (/Root)".into()))?;
    tree::count(objects, catalog)
}

/// An encrypted document's damage or missing pages are most likely what encryption
/// hides: saying so tells its owner what to do (print it unprotected).
fn blame(refusal: Refusal, encrypted: bool) -> Refusal {
    match refusal {
        Refusal::Damaged(_) | Refusal::NoPages if encrypted => Refusal::Encrypted,
        other => other,
    }
}

/// Pages of the PDF `file`, for the callers that charge for them, read from the file
/// in bounded windows (see [`count`] for what is read and the bounds on it). A document
/// that cannot be counted is refused with a reason a person can read.
pub fn page_count(file: &std::fs::File) -> Result<i64, String> {
    let len = file.metadata().map_err(|e| Refusal::Unreadable(e.to_string()).to_string())?.len();
    page_count_of(file, len)
}

/// [`page_count`] of a document of `len` bytes read through `bytes` (a spool file,
/// decrypted where the counter reads).
pub(crate) fn page_count_of(bytes: &dyn ReadAt, len: u64) -> Result<i64, String> {
    let len = usize::try_from(len).map_err(|_| Refusal::TooComplex("it is too large".into()).to_string())?;
    let counted = count_in(&Source::new(bytes, len)).map_err(|e| e.to_string())?;
    if counted.declared != Some(counted.pages as i64) {
        tracing::warn!(
            pages = counted.pages,
            declared = ?counted.declared,
            "the PDF's page tree disagrees with its /Count: charging for the pages it holds"
        );
    }
    i64::try_from(counted.pages).map_err(|_| Refusal::TooComplex("too many pages".into()).to_string())
}

#[cfg(test)]
mod tests;
