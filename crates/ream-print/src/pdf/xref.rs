//! Where each object starts, from the document's own cross-references: classic `xref`
//! tables and cross-reference streams (PDF 1.5), newest first along `/Prev`, with a
//! hybrid file's `/XRefStm` consulted before the table's older sections.
//!
//! Promises: tables are not loaded but looked up where they are (rows have a fixed
//! width; the last block of rows read is kept), so a table of millions of entries costs
//! only its subsection headers; the `/Prev` chain is followed at most [`MAX_SECTIONS`]
//! steps and a loop in it is refused as damage.

use super::decode::Filters;
use super::source::Source;
use super::syntax::{Dict, Lexer, Obj, Ref};
use super::{Refusal, Work};

/// Cross-reference sections followed along `/Prev`: one per incremental update, and
/// every lookup may try each, so the chain is kept short.
const MAX_SECTIONS: usize = 256;

/// Subsection headers kept over all sections.
const MAX_SUBSECTIONS: usize = 1 << 18;

/// Table rows read at once: lookups mostly go through a table in order.
const ROW_BLOCK: usize = 64 << 10;

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

/// What the trailers say about the document as a whole.
#[derive(Default)]
pub(super) struct Trailer {
    pub root: Option<Ref>,
    pub encrypted: bool,
}

/// The entries of one trailer dictionary that the counter uses.
struct TrailerEntries {
    root: Option<Ref>,
    encrypted: bool,
    prev: Option<i64>,
    xref_stream: Option<i64>,
}

impl TrailerEntries {
    fn of(dict: &Dict) -> Self {
        TrailerEntries {
            root: dict.reference(b"Root"),
            encrypted: dict.has(b"Encrypt"),
            prev: dict.int(b"Prev"),
            xref_stream: dict.int(b"XRefStm"),
        }
    }
}

impl Trailer {
    /// Learns from one trailer, met from the newest to the oldest.
    pub fn learn(&mut self, root: Option<Ref>, encrypted: bool) {
        self.root = self.root.or(root);
        self.encrypted |= encrypted;
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
    /// A classic table: its rows are read from the file when looked up.
    Table(Vec<Subsection>),
    /// A cross-reference stream: its rows, decoded, with the widths of their fields.
    Stream { rows: Vec<u8>, widths: [usize; 3], subsections: Vec<Subsection> },
}

impl Section {
    fn subsections(&self) -> &[Subsection] {
        match self {
            Section::Table(s) | Section::Stream { subsections: s, .. } => s,
        }
    }
}

pub(super) struct Xref {
    /// Newest first: the first section that lists an object decides where it is.
    sections: Vec<Section>,
    pub trailer: Trailer,
    /// The block of table rows read last, and where it starts.
    rows: (usize, Vec<u8>),
}

fn damaged(what: &str) -> Refusal {
    Refusal::Damaged(what.into())
}

impl Xref {
    pub fn read(src: &Source, work: &mut Work) -> Result<Self, Refusal> {
        let mut xref = Xref { sections: Vec::new(), trailer: Trailer::default(), rows: (0, Vec::new()) };
        let mut subsections = 0;
        let mut seen = Vec::new();
        let mut next = Some(startxref(src, work)?);
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
            let table = src.lex(at, work, |lx| Ok(lx.keyword(b"xref").then_some(lx.pos)))?;
            let (section, trailer) = match table {
                Some(rows) => self::table(src, at + rows, work)?,
                None => stream(src, at, work)?,
            };
            subsections += section.subsections().len();
            if subsections > MAX_SUBSECTIONS {
                return Err(Refusal::TooComplex("its cross-reference tables are too fragmented".into()));
            }
            xref.trailer.learn(trailer.root, trailer.encrypted);
            xref.sections.push(section);
            // A hybrid file's stream lists the objects its table leaves out, and ranks
            // just below that table.
            if let Some(at) = offset(trailer.xref_stream, src) {
                if !seen.contains(&at) {
                    seen.push(at);
                    xref.sections.push(stream(src, at, work)?.0);
                }
            }
            next = offset(trailer.prev, src);
        }
        Ok(xref)
    }

    /// Where object `num` is, or `None` if no section lists it.
    pub fn place(&mut self, src: &Source, num: u32, work: &mut Work) -> Result<Option<Place>, Refusal> {
        for section in &self.sections {
            work.spend(1)?;
            let subsections = section.subsections();
            // Subsections are kept sorted by their first number; the last one starting
            // at or before `num` is the only one that can hold it.
            let i = subsections.partition_point(|s| s.first <= num);
            let Some(row) = i.checked_sub(1).and_then(|i| subsections[i].row_of(num)) else { continue };
            return match section {
                Section::Table(_) => {
                    let (start, block) = &self.rows;
                    if !(*start <= row && row + 18 <= start + block.len()) {
                        self.rows = (row, src.read(row, ROW_BLOCK, work)?);
                    }
                    let (start, block) = &self.rows;
                    table_entry(&block[row - start..]).map(Some)
                }
                Section::Stream { rows, widths, .. } => Ok(stream_entry(rows, *widths, row)),
            };
        }
        Ok(None)
    }
}

/// The offset `startxref` gives, searched for near the end as readers do: writers may
/// leave a little junk after `%%EOF`.
fn startxref(src: &Source, work: &mut Work) -> Result<usize, Refusal> {
    let start = src.len.saturating_sub(64 << 10);
    let tail = src.read(start, src.len - start, work)?;
    work.spend(tail.len())?;
    let at = memchr::memmem::rfind(&tail, b"startxref")
        .ok_or_else(|| damaged("it has no cross-reference table (startxref)"))?;
    let mut lx = Lexer::new(&tail, at + b"startxref".len());
    offset(lx.unsigned().and_then(|n| i64::try_from(n).ok()), src)
        .ok_or_else(|| damaged("its startxref offset is not in the file"))
}

fn offset(n: Option<i64>, src: &Source) -> Option<usize> {
    n.and_then(|n| usize::try_from(n).ok()).filter(|&n| n < src.len)
}

/// The subsections of a classic table whose first header is at `at`, and its trailer.
fn table(src: &Source, mut at: usize, work: &mut Work) -> Result<(Section, TrailerEntries), Refusal> {
    enum Next {
        Subsection { first: u64, count: u64, rows: usize, row: usize },
        Trailer(TrailerEntries),
    }
    let mut subsections = Vec::new();
    let trailer = loop {
        let next = src.lex(at, work, |lx| {
            let save = lx.pos;
            if let (Some(first), Some(count)) = (lx.unsigned(), lx.unsigned()) {
                lx.skip_white();
                // Rows are 20 bytes, but some writers end them with one byte, not two.
                let row = if count > 0 && lx.peek(lx.pos + 19).is_some_and(super::syntax::is_white) {
                    20
                } else {
                    19
                };
                return Ok(Next::Subsection { first, count, rows: lx.pos, row });
            }
            lx.pos = save;
            if !lx.keyword(b"trailer") {
                return Err(damaged("a cross-reference table has no trailer"));
            }
            match lx.object()? {
                Obj::Dict(d) => Ok(Next::Trailer(TrailerEntries::of(&d))),
                _ => Err(damaged("its trailer is not a dictionary")),
            }
        })?;
        let (first, count, rows, row) = match next {
            Next::Trailer(trailer) => break trailer,
            Next::Subsection { first, count, rows, row } => (first, count, at + rows, row),
        };
        let (Ok(first), Ok(count)) = (u32::try_from(first), u32::try_from(count)) else {
            return Err(damaged("a cross-reference subsection is out of range"));
        };
        let end = (count as usize).checked_mul(row).and_then(|n| n.checked_add(rows));
        at = end.filter(|&e| e <= src.len).ok_or_else(|| damaged("it is cut short"))?;
        if count > 0 {
            subsections.push(Subsection { first, count, at: rows, row });
        }
        if subsections.len() > MAX_SUBSECTIONS {
            return Err(Refusal::TooComplex("its cross-reference tables are too fragmented".into()));
        }
    };
    subsections.sort_by_key(|s| s.first);
    Ok((Section::Table(subsections), trailer))
}

/// One row of a classic table: `oooooooooo ggggg n`.
fn table_entry(row: &[u8]) -> Result<Place, Refusal> {
    let row = row.get(..18).ok_or_else(|| damaged("it is cut short"))?;
    let offset = std::str::from_utf8(&row[..10]).ok().and_then(|s| s.trim().parse::<usize>().ok());
    match (offset, row[17]) {
        (Some(offset), b'n') => Ok(Place::At(offset)),
        (_, b'f') => Ok(Place::Free),
        _ => Err(damaged("a cross-reference entry is malformed")),
    }
}

/// A stream's dictionary entries that say where its data is and how it is encoded.
pub(super) struct StreamHead {
    /// Where the data starts, from where the object was read.
    pub start: usize,
    pub length: Option<usize>,
    pub filters: Filters,
}

impl StreamHead {
    /// The head of the stream whose dictionary `lx` has just read, if it is one.
    pub fn of(dict: &Dict, lx: &mut Lexer) -> Result<Option<Self>, Refusal> {
        let Some(start) = lx.stream_start() else { return Ok(None) };
        let length = dict.int(b"Length").and_then(|n| usize::try_from(n).ok());
        Ok(Some(StreamHead { start, length, filters: Filters::of(dict)? }))
    }

    /// The stream's decoded data, its object having been read from `at`.
    pub fn decode(&self, src: &Source, at: usize, work: &mut Work) -> Result<Option<Vec<u8>>, Refusal> {
        match src.stream_data(at + self.start, self.length, work)? {
            Some(raw) => self.filters.decode(&raw, work).map(Some),
            None => Ok(None),
        }
    }
}

/// A cross-reference stream at `at`: its section and trailer entries.
fn stream(src: &Source, at: usize, work: &mut Work) -> Result<(Section, TrailerEntries), Refusal> {
    struct Head {
        stream: StreamHead,
        trailer: TrailerEntries,
        widths: Option<[usize; 3]>,
        index: Option<Vec<(i64, i64)>>,
    }
    let head = src.lex(at, work, |lx| {
        if lx.object_head().is_none() {
            return Err(damaged("startxref points to no cross-reference table"));
        }
        let Obj::Dict(dict) = lx.object()? else {
            return Err(damaged("a cross-reference stream is malformed"));
        };
        let stream =
            StreamHead::of(&dict, lx)?.ok_or_else(|| damaged("a cross-reference stream has no data"))?;
        let widths = match dict.get(b"W") {
            Some(Obj::Array(w)) if w.len() == 3 => {
                let mut widths = [0; 3];
                for (out, w) in widths.iter_mut().zip(w) {
                    match w {
                        Obj::Int(n @ 0..=8) => *out = *n as usize,
                        _ => return Err(damaged("a cross-reference stream's /W is out of range")),
                    }
                }
                Some(widths)
            }
            _ => None,
        };
        let index = match dict.get(b"Index") {
            Some(Obj::Array(pairs)) => Some(
                pairs
                    .chunks(2)
                    .map(|p| match p {
                        [Obj::Int(first), Obj::Int(count)] => Some((*first, *count)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| damaged("a cross-reference stream's /Index is malformed"))?,
            ),
            _ => dict.int(b"Size").map(|size| vec![(0, size)]),
        };
        Ok(Head { stream, trailer: TrailerEntries::of(&dict), widths, index })
    })?;
    let widths = head.widths.ok_or_else(|| damaged("a cross-reference stream has no /W"))?;
    let row = widths.iter().sum::<usize>();
    if row == 0 {
        return Err(damaged("a cross-reference stream's /W is out of range"));
    }
    let rows =
        head.stream.decode(src, at, work)?.ok_or_else(|| damaged("a cross-reference stream has no data"))?;
    let mut subsections = Vec::new();
    let mut at = 0usize;
    for (first, count) in head.index.unwrap_or_default() {
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
        if subsections.len() > MAX_SUBSECTIONS {
            return Err(Refusal::TooComplex("its cross-reference tables are too fragmented".into()));
        }
    }
    subsections.sort_by_key(|s| s.first);
    Ok((Section::Stream { rows, widths, subsections }, head.trailer))
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
