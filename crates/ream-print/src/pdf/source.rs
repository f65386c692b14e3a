//! The document's bytes, read in bounded windows: from a file with positioned reads,
//! or from memory (tests and the fuzzer) through exactly the same windows.
//!
//! Promises: memory held is what the windows hold (a parse's window grows from 1 KiB to
//! at most [`MAX_WINDOW`]) and one block read ahead, never the document; a result read
//! from a window is trusted only if the parse did not need bytes past the window's end;
//! every read is charged to the work budget. Mapping the file instead would cost no
//! copies, but each touch maps whole page-cache folios: counting a 1 GiB document's
//! pages showed 968 MB resident and took longer than these reads.

use super::syntax::{Lexer, Obj};
use super::{Refusal, Work};
use std::cell::RefCell;
use std::os::unix::fs::FileExt;

/// A parse starts on this many bytes, enough for most objects it reads.
const FIRST_WINDOW: usize = 1 << 10;
/// The most read ahead for parses: objects read one after another (a page tree written
/// in order, a recovery scan) are then read a block at a time, not one read each.
const MAX_AHEAD: usize = 256 << 10;
/// The most one parse may need, and the largest stream read whole.
pub(super) const MAX_WINDOW: usize = 16 << 20;
/// Bytes read at once when searching.
const CHUNK: usize = 1 << 20;
/// Work units one read costs besides the bytes it parses: a read costs about what
/// parsing a kilobyte does.
const READ_COST: usize = 1 << 10;

pub(crate) trait ReadAt {
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<usize>;
}

impl ReadAt for &[u8] {
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
        let from = self.get(at as usize..).unwrap_or_default();
        let n = buf.len().min(from.len());
        buf[..n].copy_from_slice(&from[..n]);
        Ok(n)
    }
}

impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
        FileExt::read_at(self, buf, at)
    }
}

pub(super) struct Source<'s> {
    bytes: &'s dyn ReadAt,
    pub len: usize,
    ahead: RefCell<Ahead>,
}

/// The block read last for parses, where it starts, and how much the next read
/// would take.
#[derive(Default)]
struct Ahead {
    start: usize,
    block: Vec<u8>,
    next: usize,
}

fn too_large() -> Refusal {
    Refusal::TooComplex(format!("one of its objects is larger than {} MiB", MAX_WINDOW >> 20))
}

impl<'s> Source<'s> {
    pub fn new(bytes: &'s dyn ReadAt, len: usize) -> Self {
        Source { bytes, len, ahead: RefCell::default() }
    }

    /// Up to `len` bytes from `at` for a parse, from the block read ahead when it holds
    /// them. Reading on from where the last block began reads twice as far ahead as last
    /// time; reading elsewhere starts small again, so scattered objects cost small reads.
    fn window(&self, at: usize, len: usize, work: &mut Work) -> Result<Vec<u8>, Refusal> {
        let len = len.min(self.len.saturating_sub(at));
        if len > MAX_AHEAD {
            return self.read(at, len, work);
        }
        let mut ahead = self.ahead.borrow_mut();
        let held = ahead.start <= at && at + len <= ahead.start + ahead.block.len();
        if !held {
            let on = ahead.start <= at && at <= ahead.start + ahead.block.len() + FIRST_WINDOW;
            ahead.next = if on { (ahead.next * 2).min(MAX_AHEAD) } else { FIRST_WINDOW };
            let block = self.read(at, len.max(ahead.next), work)?;
            *ahead = Ahead { start: at, block, next: ahead.next };
        }
        // A file cut short under us yields a shorter block, not a panic.
        let from = at - ahead.start;
        Ok(ahead.block[from..(from + len).min(ahead.block.len())].to_vec())
    }

    /// Up to `len` bytes from `at`, read now: fewer at the end of the document.
    pub fn read(&self, at: usize, len: usize, work: &mut Work) -> Result<Vec<u8>, Refusal> {
        work.spend(READ_COST)?;
        let mut buf = vec![0; len.min(self.len.saturating_sub(at))];
        let mut filled = 0;
        while filled < buf.len() {
            match self.bytes.read_at(&mut buf[filled..], (at + filled) as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Refusal::Unreadable(e.to_string())),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// What `parse` makes of the bytes from `at` (positions in its lexer count from
    /// `at`), read on windows that grow until it needs nothing past their end.
    pub fn lex<R>(
        &self,
        at: usize,
        work: &mut Work,
        mut parse: impl FnMut(&mut Lexer<'_>) -> Result<R, Refusal>,
    ) -> Result<R, Refusal> {
        let mut want = FIRST_WINDOW;
        loop {
            let window = self.window(at, want, work)?;
            let mut lx = Lexer::new(&window, 0);
            let result = parse(&mut lx);
            work.spend(lx.pos)?;
            if !lx.short() || at + window.len() >= self.len {
                return result;
            }
            if want >= MAX_WINDOW {
                return Err(too_large());
            }
            want = (want * 16).min(MAX_WINDOW);
        }
    }

    /// Calls `f` with object `num`, whose head `num gen obj` should be at `at`.
    pub fn object<R>(
        &self,
        at: usize,
        num: u32,
        work: &mut Work,
        f: impl FnOnce(&Obj<'_>) -> R,
    ) -> Result<R, Refusal> {
        let mut want = FIRST_WINDOW;
        loop {
            let window = self.window(at, want, work)?;
            let mut lx = Lexer::new(&window, 0);
            let object = match lx.object_head() {
                Some(head) if head.num == num => lx.object().map(Some),
                _ => Ok(None),
            };
            work.spend(lx.pos)?;
            if !lx.short() || at + window.len() >= self.len {
                return match object? {
                    Some(object) => Ok(f(&object)),
                    None => {
                        Err(Refusal::Damaged(format!("object {num} is not where its cross-reference says")))
                    }
                };
            }
            if want >= MAX_WINDOW {
                return Err(too_large());
            }
            want = (want * 16).min(MAX_WINDOW);
        }
    }

    /// Where `needle` first starts in `from..to`, read in chunks; the bytes searched are
    /// charged.
    pub fn find(
        &self,
        needle: &[u8],
        from: usize,
        to: usize,
        work: &mut Work,
    ) -> Result<Option<usize>, Refusal> {
        let to = to.min(self.len);
        let finder = memchr::memmem::Finder::new(needle);
        let mut at = from;
        while at + needle.len() <= to {
            let chunk = self.read(at, CHUNK.min(to - at), work)?;
            work.spend(chunk.len())?;
            if let Some(i) = finder.find(&chunk) {
                return Ok(Some(at + i));
            }
            if chunk.len() < needle.len() {
                break;
            }
            // Step back so a needle across two chunks is found in the second.
            at += chunk.len() - (needle.len() - 1);
        }
        Ok(None)
    }

    /// The end of a stream's data starting at `start`: `length` bytes on if `endstream`
    /// follows there, else the next `endstream` within [`MAX_WINDOW`] bytes.
    pub fn stream_end(
        &self,
        start: usize,
        length: Option<usize>,
        work: &mut Work,
    ) -> Result<Option<usize>, Refusal> {
        if let Some(end) = length.and_then(|n| start.checked_add(n)).filter(|&end| end <= self.len) {
            if self.lex(end, work, |lx| Ok(lx.keyword(b"endstream")))? {
                return Ok(Some(end));
            }
        }
        self.find(b"endstream", start, start.saturating_add(MAX_WINDOW + 2), work)
    }

    /// A stream's raw data, from `start` to its end.
    pub fn stream_data(
        &self,
        start: usize,
        length: Option<usize>,
        work: &mut Work,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        match self.stream_end(start, length, work)? {
            Some(end) if end - start > MAX_WINDOW => Err(too_large()),
            Some(end) => self.read(start, end - start, work).map(Some),
            None => Ok(None),
        }
    }
}
