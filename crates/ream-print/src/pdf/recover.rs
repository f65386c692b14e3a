//! Finding a document's objects when its cross-references are damaged or missing: the
//! file is read front to back for `num gen obj` heads, as repairing readers do.
//!
//! Promises: the file is read in chunks of [`CHUNK`] bytes, stream data stepped over
//! rather than searched for heads; everything is charged to the work budget; at most
//! [`MAX_OBJECTS`] objects are remembered.

use super::source::Source;
use super::syntax::{is_regular, is_white, Lexer, Obj, Ref};
use super::xref::Trailer;
use super::{Refusal, Work, MAX_OBJECTS};
use std::collections::HashMap;

/// Bytes read at once.
const CHUNK: usize = 1 << 20;
/// Bytes kept before a position, so the head before an `obj` keyword is in the chunk.
const CONTEXT: usize = 128;

#[derive(Default)]
pub(super) struct Recovered {
    /// Each object's last head in the file: a later incremental update wins.
    objects: HashMap<u32, usize>,
    /// Object streams found, in file order; their contents are read only when needed.
    pub object_streams: Vec<u32>,
    pub trailer: Trailer,
}

impl Recovered {
    pub fn place(&self, num: u32) -> Option<usize> {
        self.objects.get(&num).copied()
    }
}

/// What the scan learns from one object.
struct Found {
    kind: Kind,
    root: Option<Ref>,
    encrypted: bool,
    /// Where its stream data starts and the length it declares, if it is a stream.
    stream: Option<(usize, Option<usize>)>,
    end: usize,
}

enum Kind {
    XRef,
    ObjStm,
    Catalog,
    Other,
}

fn read_object(lx: &mut Lexer) -> Result<Found, Refusal> {
    let Obj::Dict(dict) = lx.object()? else {
        return Ok(Found { kind: Kind::Other, root: None, encrypted: false, stream: None, end: lx.pos });
    };
    let kind = if dict.is_type(b"XRef") {
        Kind::XRef
    } else if dict.is_type(b"ObjStm") {
        Kind::ObjStm
    } else if dict.is_type(b"Catalog") {
        Kind::Catalog
    } else {
        Kind::Other
    };
    let length = dict.int(b"Length").and_then(|n| usize::try_from(n).ok());
    let stream = lx.stream_start().map(|start| (start, length));
    Ok(Found { kind, root: dict.reference(b"Root"), encrypted: dict.has(b"Encrypt"), stream, end: lx.pos })
}

/// `Some((root, encrypted))` if a trailer dictionary is next.
fn trailer(lx: &mut Lexer) -> Option<(Option<Ref>, bool)> {
    match lx.object() {
        Ok(Obj::Dict(d)) => Some((d.reference(b"Root"), d.has(b"Encrypt"))),
        _ => None,
    }
}

/// What `parse` makes of the bytes from `at`: read from `chunk` (which starts at
/// `base`) when they are all there, else from a window of their own. Positions in the
/// answer count from the second value returned.
fn parse_from<R>(
    src: &Source,
    chunk: &[u8],
    base: usize,
    at: usize,
    work: &mut Work,
    mut parse: impl FnMut(&mut Lexer) -> R,
) -> Result<(R, usize), Refusal> {
    let mut lx = Lexer::new(chunk, at - base);
    let result = parse(&mut lx);
    if lx.short() && base + chunk.len() < src.len {
        return Ok((src.lex(at, work, |lx| Ok(parse(lx)))?, at));
    }
    work.spend(lx.pos - (at - base))?;
    Ok((result, base))
}

pub(super) fn scan(src: &Source, work: &mut Work) -> Result<Recovered, Refusal> {
    let mut found = Recovered::default();
    // The root is the newest trailer's (a classic trailer or a cross-reference stream's
    // dictionary) or, with no trailer left, the last catalog in the file.
    let mut newest_root: Option<(usize, Ref)> = None;
    let mut catalog = None;
    let heads = memchr::memmem::Finder::new(b"obj");
    let (mut base, mut chunk) = (0, Vec::new());
    let mut pos = 0;
    while pos < src.len {
        if pos >= base + chunk.len() {
            base = pos.saturating_sub(CONTEXT);
            chunk = src.read(base, CHUNK, work)?;
        }
        let chunk_end = base + chunk.len();
        let Some(i) = heads.find(&chunk[pos - base..]) else {
            work.spend(chunk_end - pos)?;
            // Two bytes back, so an `obj` across two chunks is found in the second.
            pos = chunk_end.max(pos + 3) - 2;
            if chunk_end >= src.len {
                break;
            }
            chunk.clear();
            continue;
        };
        let at = pos + i;
        work.spend(i + 3)?;
        if at + 4 > chunk_end && chunk_end < src.len {
            // What follows `obj` is in the next chunk: read again from here.
            pos = at;
            chunk.clear();
            continue;
        }
        pos = at + 3;
        let Some((head, start)) = head_before(&chunk, at - base) else { continue };
        if found.objects.len() >= MAX_OBJECTS && !found.objects.contains_key(&head.num) {
            return Err(Refusal::TooComplex(format!("it has more than {MAX_OBJECTS} objects")));
        }
        found.objects.insert(head.num, base + start);
        let (object, origin) = match parse_from(src, &chunk, base, pos, work, read_object) {
            Ok(parsed) => parsed,
            // Too large to be an object the count needs: look further on.
            Err(Refusal::TooComplex(_)) if !work.exhausted() => continue,
            Err(e) => return Err(e),
        };
        // Not an object after all (a head inside a string, say): look further on.
        let Ok(object) = object else { continue };
        match object.kind {
            Kind::XRef => {
                if let Some(root) = object.root {
                    newest_root = Some((at, root));
                }
                found.trailer.encrypted |= object.encrypted;
            }
            Kind::ObjStm => found.object_streams.push(head.num),
            Kind::Catalog => catalog = Some(head),
            Kind::Other => {}
        }
        pos = origin + object.end;
        if let Some((start, length)) = object.stream {
            if let Some(end) = src.stream_end(origin + start, length, work)? {
                pos = end;
            }
        }
    }
    // Trailers, in a second pass: they stand between objects, where the first pass
    // does not look.
    let mut base = 0;
    while base < src.len {
        let chunk = src.read(base, CHUNK, work)?;
        work.spend(chunk.len())?;
        for i in memchr::memmem::find_iter(&chunk, b"trailer") {
            let at = base + i + b"trailer".len();
            if let (Some((Some(root), encrypted)), _) = parse_from(src, &chunk, base, at, work, trailer)? {
                newest_root = newest_root.filter(|&(newer, _)| newer > at).or(Some((at, root)));
                found.trailer.encrypted |= encrypted;
            }
        }
        if base + chunk.len() >= src.len || chunk.len() < CHUNK {
            break;
        }
        base += chunk.len() - (b"trailer".len() - 1);
    }
    found.trailer.root = newest_root.map(|(_, root)| root).or(catalog);
    Ok(found)
}

/// The object head whose `obj` keyword is at `at`: its reference and where it starts.
fn head_before(data: &[u8], at: usize) -> Option<(Ref, usize)> {
    if data.get(at + 3).is_some_and(|&b| is_regular(b)) {
        return None;
    }
    let mut i = at;
    let mut back = |pred: fn(u8) -> bool, most: usize| {
        let end = i;
        while i > 0 && end - i < most && pred(data[i - 1]) {
            i -= 1;
        }
        (i < end).then_some(i..end)
    };
    back(is_white, 32)?;
    let gen = back(|b| b.is_ascii_digit(), 5)?;
    back(is_white, 32)?;
    let num = back(|b| b.is_ascii_digit(), 10)?;
    if num.start > 0 && is_regular(data[num.start - 1]) {
        return None;
    }
    let parse = |r: std::ops::Range<usize>| std::str::from_utf8(&data[r]).ok()?.parse::<u64>().ok();
    let reference =
        Ref { num: u32::try_from(parse(num.clone())?).ok()?, gen: u16::try_from(parse(gen)?).ok()? };
    Some((reference, num.start))
}
