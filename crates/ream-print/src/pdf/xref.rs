//! Where each object starts, from the document's own cross-references: classic `xref`
//! tables and cross-reference streams (PDF 1.5), newest first along `/Prev`, with a
//! hybrid file's `/XRefStm` consulted before the table's older sections.
//!
//! Promises: tables are not loaded but looked up in place (rows have a fixed width), so
//! a table of millions of entries costs only its subsection headers; the `/Prev` chain
//! is followed at most [`MAX_SECTIONS`] steps and a loop in it is refused as damage.

use super::decode::decode;
use super::syntax::{Dict, Lexer, Obj, Ref};
use super::{Refusal, Work};

/// Cross-reference sections followed along `/Prev`: one per incremental update, and
/// every lookup may try each, so the chain is kept short.
const MAX_SECTIONS: usize = 256;

/// Subsection headers kept over all sections.
const MAX_SUBSECTIONS: usize = 1 << 18;

/// Where an object is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Place {
    /// Its `num gen obj` starts at this offset of the file.
    At(usize),
    /// It is the `index`th object of the object stream `stream`.
    InStream { stream: u32, index: usize },
    /// Deleted, or never there: a reference to it means `null`.
    Free,
}

/// What the newest trailer says about the document as a whole.
#[derive(Default)]
pub(super) struct Trailer {
    pub root: Option<Ref>,
    pub encrypted: bool,
}

impl Trailer {
    /// Learns from one trailer dictionary, met from the newest to the oldest.
    pub fn learn(&mut self, dict: &Dict) {
        self.root = self.root.or(dict.reference(b"Root"));
        self.encrypted |= dict.has(b"Encrypt");
    }
}

/// A run of consecutive object numbers whose entries start at `at`, `row` bytes each.
struct Subsection {
    first: u32,
    count: u32,
    at: usize,
    row: usize,
}

impl Subsection {
    fn row_of(&self, num: u32) -> Option<usize> {
        let i = num.checked_sub(self.first).filter(|&i| i < self.count)?;
        Some(self.at + i as usize * self.row)
    }
}

enum Section {
    /// A classic table: its rows are read in place from the file.
    Table(Vec<Subsection>),
    /// A cross-reference stream: its rows, decoded, with the widths of their fields.
    Stream { rows: Vec<u8>, widths: [usize; 3], subsections: Vec<Subsection> },
}

pub(super) struct Xref<'a> {
    data: &'a [u8],
    /// Newest first: the first section that lists an object decides where it is.
    sections: Vec<Section>,
    pub trailer: Trailer,
}

impl<'a> Xref<'a> {
    pub fn read(data: &'a [u8], work: &mut Work) -> Result<Self, Refusal> {
        let mut xref = Xref { data, sections: Vec::new(), trailer: Trailer::default() };
        let mut subsections = 0;
        let mut seen = Vec::new();
        let mut next = Some(startxref(data)?);
        while let Some(at) = next {
            if seen.contains(&at) {
                return Err(damaged("its cross-reference sections loop back on themselves (/Prev)"));
            }
            if seen.len() == MAX_SECTIONS {
                return Err(Refusal::TooComplex(format!(
                    "it has more than {MAX_SECTIONS} cross-reference sections"
                )));
            }
            seen.push(at);
            let mut lx = Lexer::new(data, at);
            let (section, dict) = if lx.keyword(b"xref") {
                let section = table(&mut lx, work)?;
                if !lx.keyword(b"trailer") {
                    return Err(damaged("a cross-reference table has no trailer"));
                }
                (section, trailer_dict(&mut lx, work)?)
            } else {
                stream(data, at, work)?
            };
            subsections += section.subsections().len();
            if subsections > MAX_SUBSECTIONS {
                return Err(Refusal::TooComplex("its cross-reference tables are too fragmented".into()));
            }
            xref.trailer.learn(&dict);
            xref.sections.push(section);
            // A hybrid file's stream lists the objects its table leaves out, and ranks
            // just below that table.
            if let Some(at) = offset(&dict, b"XRefStm", data) {
                if !seen.contains(&at) {
                    seen.push(at);
                    xref.sections.push(stream(data, at, work)?.0);
                }
            }
            next = offset(&dict, b"Prev", data);
        }
        Ok(xref)
    }

    /// Where object `num` is, or `None` if no section lists it.
    pub fn place(&self, num: u32, work: &mut Work) -> Result<Option<Place>, Refusal> {
        for section in &self.sections {
            work.spend(1)?;
            let subsections = section.subsections();
            // Subsections are kept sorted by their first number; the last one starting
            // at or before `num` is the only one that can hold it.
            let i = subsections.partition_point(|s| s.first <= num);
            let Some(row) = i.checked_sub(1).and_then(|i| subsections[i].row_of(num)) else { continue };
            return match section {
                Section::Table(_) => table_entry(self.data, row).map(Some),
                Section::Stream { rows, widths, .. } => Ok(stream_entry(rows, *widths, row)),
            };
        }
        Ok(None)
    }
}

impl Section {
    fn subsections(&self) -> &[Subsection] {
        match self {
            Section::Table(s) | Section::Stream { subsections: s, .. } => s,
        }
    }
}

fn damaged(what: &str) -> Refusal {
    Refusal::Damaged(what.into())
}

/// The offset `startxref` gives, searched for near the end as readers do: writers may
/// leave a little junk after `%%EOF`.
fn startxref(data: &[u8]) -> Result<usize, Refusal> {
    let tail = data.len().saturating_sub(64 << 10);
    let at = memchr::memmem::rfind(&data[tail..], b"startxref")
        .ok_or_else(|| damaged("it has no cross-reference table (startxref)"))?;
    let mut lx = Lexer::new(data, tail + at + b"startxref".len());
    lx.unsigned()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n < data.len())
        .ok_or_else(|| damaged("its startxref offset is not in the file"))
}

fn offset(dict: &Dict, key: &[u8], data: &[u8]) -> Option<usize> {
    dict.int(key).and_then(|n| usize::try_from(n).ok()).filter(|&n| n < data.len())
}

fn trailer_dict<'a>(lx: &mut Lexer<'a>, work: &mut Work) -> Result<Dict<'a>, Refusal> {
    let start = lx.pos;
    let trailer = lx.object();
    work.spend(lx.pos - start)?;
    match trailer? {
        Obj::Dict(d) => Ok(d),
        _ => Err(damaged("its trailer is not a dictionary")),
    }
}

/// The subsections of a classic table, the lexer just past `xref`.
fn table(lx: &mut Lexer, work: &mut Work) -> Result<Section, Refusal> {
    let data = lx.data();
    let mut subsections = Vec::new();
    loop {
        let save = lx.pos;
        let (Some(first), Some(count)) = (lx.unsigned(), lx.unsigned()) else {
            lx.pos = save;
            break;
        };
        let (Ok(first), Ok(count)) = (u32::try_from(first), u32::try_from(count)) else {
            return Err(damaged("a cross-reference subsection is out of range"));
        };
        lx.skip_white();
        let at = lx.pos;
        // Rows are 20 bytes, but some writers end them with one byte instead of two.
        let row = if data.get(at + 19).is_some_and(|&b| super::syntax::is_white(b)) { 20 } else { 19 };
        let end = (count as usize).checked_mul(row).and_then(|n| n.checked_add(at));
        let end = end.filter(|&e| e <= data.len()).ok_or_else(|| damaged("it is cut short"))?;
        if count > 0 {
            subsections.push(Subsection { first, count, at, row });
        }
        lx.pos = end;
        work.spend(1)?;
        if subsections.len() > MAX_SUBSECTIONS {
            return Err(Refusal::TooComplex("its cross-reference tables are too fragmented".into()));
        }
    }
    subsections.sort_by_key(|s| s.first);
    Ok(Section::Table(subsections))
}

/// One row of a classic table: `oooooooooo ggggg n`.
fn table_entry(data: &[u8], at: usize) -> Result<Place, Refusal> {
    let row = data.get(at..at + 18).ok_or_else(|| damaged("it is cut short"))?;
    let offset = std::str::from_utf8(&row[..10]).ok().and_then(|s| s.trim().parse::<usize>().ok());
    match (offset, row[17]) {
        (Some(offset), b'n') => Ok(Place::At(offset)),
        (_, b'f') => Ok(Place::Free),
        _ => Err(damaged("a cross-reference entry is malformed")),
    }
}

/// A cross-reference stream at `at`: its section and its dictionary, which is also
/// the section's trailer.
fn stream<'a>(data: &'a [u8], at: usize, work: &mut Work) -> Result<(Section, Dict<'a>), Refusal> {
    let mut lx = Lexer::new(data, at);
    if lx.object_head().is_none() {
        return Err(damaged("startxref points to no cross-reference table"));
    }
    let dict = trailer_dict(&mut lx, work)?;
    let raw = stream_data(data, &dict, &mut lx, work)?
        .ok_or_else(|| damaged("a cross-reference stream has no data"))?;
    let rows = decode(&dict, raw, work)?;
    let widths = match dict.get(b"W") {
        Some(Obj::Array(w)) if w.len() == 3 => {
            let mut widths = [0; 3];
            for (out, w) in widths.iter_mut().zip(w) {
                match w {
                    Obj::Int(n @ 0..=8) => *out = *n as usize,
                    _ => return Err(damaged("a cross-reference stream's /W is out of range")),
                }
            }
            widths
        }
        _ => return Err(damaged("a cross-reference stream has no /W")),
    };
    let row = widths.iter().sum::<usize>();
    if row == 0 {
        return Err(damaged("a cross-reference stream's /W is out of range"));
    }
    let size = dict.int(b"Size").unwrap_or(0);
    let index = match dict.get(b"Index") {
        Some(Obj::Array(pairs)) => pairs
            .chunks(2)
            .map(|p| match p {
                [Obj::Int(first), Obj::Int(count)] => Some((*first, *count)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| damaged("a cross-reference stream's /Index is malformed"))?,
        _ => vec![(0, size)],
    };
    let mut subsections = Vec::with_capacity(index.len());
    let mut at = 0usize;
    for (first, count) in index {
        let (Ok(first), Ok(count)) = (u32::try_from(first), u32::try_from(count)) else {
            return Err(damaged("a cross-reference stream's /Index is out of range"));
        };
        // Rows past the decoded data are not listed: a short stream lists fewer objects.
        let have = u32::try_from(rows.len().saturating_sub(at) / row).unwrap_or(u32::MAX);
        let count = count.min(have);
        if count > 0 {
            subsections.push(Subsection { first, count, at, row });
        }
        at += count as usize * row;
    }
    subsections.sort_by_key(|s| s.first);
    Ok((Section::Stream { rows, widths, subsections }, dict))
}

fn stream_entry(rows: &[u8], widths: [usize; 3], at: usize) -> Option<Place> {
    let mut fields = [0u64; 3];
    let mut pos = at;
    for (field, w) in fields.iter_mut().zip(widths) {
        *field = rows[pos..pos + w].iter().fold(0, |n, &b| n << 8 | u64::from(b));
        pos += w;
    }
    // A missing type field means type 1.
    let kind = if widths[0] == 0 { 1 } else { fields[0] };
    Some(match kind {
        1 => Place::At(usize::try_from(fields[1]).ok()?),
        2 => Place::InStream {
            stream: u32::try_from(fields[1]).ok()?,
            index: usize::try_from(fields[2]).ok()?,
        },
        _ => Place::Free,
    })
}

/// The raw data of the stream whose dictionary `lx` has just read: `/Length` bytes
/// when a direct length fits and `endstream` follows, else up to the next `endstream`.
/// The bytes it passes over are charged: a search for a missing `endstream` reads to
/// the end of the file.
pub(super) fn stream_data<'a>(
    data: &'a [u8],
    dict: &Dict,
    lx: &mut Lexer<'a>,
    work: &mut Work,
) -> Result<Option<&'a [u8]>, Refusal> {
    let Some(start) = lx.stream_start() else { return Ok(None) };
    let by_length = dict.int(b"Length").and_then(|n| usize::try_from(n).ok()).and_then(|n| {
        let end = start.checked_add(n)?;
        let mut after = Lexer::new(data, end);
        (end <= data.len() && after.keyword(b"endstream")).then_some(end)
    });
    let end = match by_length {
        Some(end) => end,
        None => match memchr::memmem::find(&data[start..], b"endstream") {
            Some(i) => start + i,
            None => {
                work.spend(data.len() - start)?;
                return Ok(None);
            }
        },
    };
    work.spend(end - start)?;
    lx.pos = end;
    Ok(Some(&data[start..end]))
}
