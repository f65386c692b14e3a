//! Finding a document's objects when its cross-references are damaged or missing: the
//! file is read front to back for `num gen obj` heads, as repairing readers do.
//!
//! Promises: one pass over the bytes (stream data is stepped over, not searched for
//! heads), everything charged to the work budget, at most [`MAX_OBJECTS`] objects
//! remembered, and nothing copied out of the file.

use super::syntax::{is_regular, is_white, Lexer, Obj, Ref};
use super::xref::{stream_data, Trailer};
use super::{Refusal, Work, MAX_OBJECTS};
use std::collections::HashMap;

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

pub(super) fn scan(data: &[u8], work: &mut Work) -> Result<Recovered, Refusal> {
    let mut found = Recovered::default();
    // The root is the newest trailer's (a classic trailer or a cross-reference stream's
    // dictionary) or, with no trailer left, the last catalog in the file.
    let mut newest_root: Option<(usize, Ref)> = None;
    let mut catalog = None;
    let heads = memchr::memmem::Finder::new(b"obj");
    let mut pos = 0;
    while let Some(i) = heads.find(&data[pos..]) {
        let at = pos + i;
        work.spend(i + 3)?;
        pos = at + 3;
        let Some((head, start)) = head_before(data, at) else { continue };
        if found.objects.len() >= MAX_OBJECTS && !found.objects.contains_key(&head.num) {
            return Err(Refusal::TooComplex(format!("it has more than {MAX_OBJECTS} objects")));
        }
        found.objects.insert(head.num, start);
        let mut lx = Lexer::new(data, pos);
        let value = lx.object();
        work.spend(lx.pos - pos)?;
        let dict = match value {
            Ok(Obj::Dict(dict)) => dict,
            Ok(_) => {
                pos = lx.pos;
                continue;
            }
            Err(e @ Refusal::TooComplex(_)) => return Err(e),
            // Not an object after all (a head inside a string, say): look further on.
            Err(_) => continue,
        };
        if dict.is_type(b"XRef") {
            if let Some(root) = dict.reference(b"Root") {
                newest_root = Some((start, root));
            }
            found.trailer.encrypted |= dict.has(b"Encrypt");
        } else if dict.is_type(b"ObjStm") {
            found.object_streams.push(head.num);
        } else if dict.is_type(b"Catalog") {
            catalog = Some(head);
        }
        stream_data(data, &dict, &mut lx, work)?;
        pos = lx.pos;
    }
    work.spend(data.len() - pos)?;
    for at in memchr::memmem::find_iter(data, b"trailer") {
        let mut lx = Lexer::new(data, at + b"trailer".len());
        let value = lx.object();
        work.spend(lx.pos - at)?;
        if let Ok(Obj::Dict(dict)) = value {
            if let Some(root) = dict.reference(b"Root") {
                newest_root = newest_root.filter(|&(newer, _)| newer > at).or(Some((at, root)));
            }
            found.trailer.encrypted |= dict.has(b"Encrypt");
        }
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
