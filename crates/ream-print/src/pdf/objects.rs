//! Objects by reference, wherever the document keeps them: at an offset of the file or
//! inside an object stream (`/Type /ObjStm`), found through the cross-references or,
//! for a damaged document, through what [`recover`](super::recover) found.
//!
//! Promises: an object stream is decoded at most once and then kept (its bytes count
//! towards the inflation cap, so what is kept is bounded too); at most [`MAX_OBJECTS`]
//! object-stream entries are indexed; objects of an encrypted document's object streams
//! are never read, and asking for one refuses the document as password-protected.

use super::recover::Recovered;
use super::source::Source;
use super::syntax::{Lexer, Obj, Ref};
use super::xref::{Place, StreamHead, Xref};
use super::{Refusal, Work, MAX_OBJECTS};
use std::collections::HashMap;
use std::rc::Rc;

pub(super) enum Index {
    Xref(Xref),
    Recovered(Recovered),
}

struct ObjectStream {
    data: Vec<u8>,
    /// Where the first object starts, and each object's number and offset from there.
    first: usize,
    entries: Vec<(u32, usize)>,
}

pub(super) struct Objects<'s> {
    src: &'s Source<'s>,
    index: Index,
    pub encrypted: bool,
    streams: HashMap<u32, Rc<ObjectStream>>,
    entries: usize,
    /// A recovered document's object streams, the objects found in those read so far,
    /// and how many have been read.
    object_streams: Vec<u32>,
    in_streams: HashMap<u32, (u32, usize)>,
    streams_read: usize,
    pub work: Work,
}

fn damaged(what: String) -> Refusal {
    Refusal::Damaged(what)
}

impl<'s> Objects<'s> {
    pub fn new(src: &'s Source<'s>, mut index: Index, work: Work) -> Self {
        let (encrypted, object_streams) = match &mut index {
            Index::Xref(x) => (x.trailer.encrypted, Vec::new()),
            Index::Recovered(r) => (r.trailer.encrypted, std::mem::take(&mut r.object_streams)),
        };
        Objects {
            src,
            index,
            encrypted,
            streams: HashMap::new(),
            entries: 0,
            object_streams,
            in_streams: HashMap::new(),
            streams_read: 0,
            work,
        }
    }

    pub fn root(&self) -> Option<Ref> {
        match &self.index {
            Index::Xref(x) => x.trailer.root,
            Index::Recovered(r) => r.trailer.root,
        }
    }

    /// Calls `f` with the object `r` refers to (`null` if there is none).
    pub fn with<R>(&mut self, r: Ref, f: impl FnOnce(&Obj<'_>) -> R) -> Result<R, Refusal> {
        match self.place(r.num)? {
            None | Some(Place::Free) => Ok(f(&Obj::Null)),
            Some(Place::At(at)) => self.src.object(at, r.num, &mut self.work, f),
            Some(Place::InStream { stream, index }) => {
                let stream = self.object_stream(stream)?;
                Ok(f(&self.in_stream(&stream, r.num, index)?))
            }
        }
    }

    fn place(&mut self, num: u32) -> Result<Option<Place>, Refusal> {
        match &mut self.index {
            Index::Xref(x) => return x.place(self.src, num, &mut self.work),
            Index::Recovered(r) => {
                if let Some(at) = r.place(num) {
                    return Ok(Some(Place::At(at)));
                }
            }
        }
        // Not found directly: it may be in an object stream not read yet.
        loop {
            if let Some(&(stream, index)) = self.in_streams.get(&num) {
                return Ok(Some(Place::InStream { stream, index }));
            }
            let Some(&stream) = self.object_streams.get(self.streams_read) else { return Ok(None) };
            self.streams_read += 1;
            match self.object_stream(stream) {
                Ok(s) => {
                    for (index, &(n, _)) in s.entries.iter().enumerate() {
                        self.in_streams.entry(n).or_insert((stream, index));
                    }
                }
                // One damaged object stream need not keep the rest from being read.
                Err(Refusal::Damaged(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn object_stream(&mut self, num: u32) -> Result<Rc<ObjectStream>, Refusal> {
        if self.encrypted {
            return Err(Refusal::Encrypted);
        }
        if let Some(s) = self.streams.get(&num) {
            return Ok(Rc::clone(s));
        }
        let Some(Place::At(at)) = self.place(num)? else {
            return Err(damaged(format!("object stream {num} is missing")));
        };
        let head = self.src.lex(at, &mut self.work, |lx| {
            if lx.object_head().is_none_or(|head| head.num != num) {
                return Err(damaged(format!("object stream {num} is not where its cross-reference says")));
            }
            let Obj::Dict(dict) = lx.object()? else {
                return Err(damaged(format!("object {num} is not a stream")));
            };
            let stream = StreamHead::of(&dict, lx)?;
            Ok((stream, dict.int(b"N"), dict.int(b"First")))
        })?;
        let (Some(stream), Some(n), Some(first)) = head else {
            return Err(damaged(format!("object stream {num} has no data, /N or /First")));
        };
        let data = stream
            .decode(self.src, at, &mut self.work)?
            .ok_or_else(|| damaged(format!("object stream {num} has no data")))?;
        let first = usize::try_from(first).ok().filter(|&f| f <= data.len());
        let first = first.ok_or_else(|| damaged(format!("object stream {num}'s /First is out of range")))?;
        let mut header = Lexer::new(&data[..first], 0);
        let mut entries = Vec::new();
        for _ in 0..n.max(0) {
            let (Some(n), Some(offset)) = (header.unsigned(), header.unsigned()) else { break };
            let (Ok(n), Ok(offset)) = (u32::try_from(n), usize::try_from(offset)) else { break };
            entries.push((n, offset));
        }
        self.work.spend(header.pos)?;
        self.entries += entries.len();
        if self.entries > MAX_OBJECTS {
            return Err(Refusal::TooComplex(format!(
                "its object streams hold more than {MAX_OBJECTS} objects"
            )));
        }
        let stream = Rc::new(ObjectStream { data, first, entries });
        self.streams.insert(num, Rc::clone(&stream));
        Ok(stream)
    }

    /// Object `num`, said to be the `index`th of `stream`. The index is trusted only if
    /// the stream agrees: otherwise the object is looked for by its number.
    fn in_stream<'o>(
        &mut self,
        stream: &'o ObjectStream,
        num: u32,
        index: usize,
    ) -> Result<Obj<'o>, Refusal> {
        let offset = match stream.entries.get(index) {
            Some(&(n, offset)) if n == num => Some(offset),
            _ => {
                self.work.spend(stream.entries.len())?;
                stream.entries.iter().find(|&&(n, _)| n == num).map(|&(_, offset)| offset)
            }
        };
        let Some(at) = offset.and_then(|o| stream.first.checked_add(o)).filter(|&at| at < stream.data.len())
        else {
            return Ok(Obj::Null);
        };
        let mut lx = Lexer::new(&stream.data, at);
        let value = lx.object();
        self.work.spend(lx.pos - at)?;
        value
    }
}
