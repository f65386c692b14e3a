//! Decoding the only streams the counter opens: object streams and cross-reference
//! streams. Both are nearly always FlateDecode, cross-reference streams usually with a
//! PNG predictor.
//!
//! Promises: a stream is inflated only up to [`MAX_STREAM_BYTES`], and all streams of
//! one document together up to [`MAX_INFLATED_BYTES`]; the caps are enforced while
//! inflating, so a small "zip bomb" costs at most the cap, never its full size. Any other
//! filter is refused by name.

use super::syntax::{Dict, Obj};
use super::{Refusal, Work, MAX_INFLATED_BYTES, MAX_STREAM_BYTES};
use std::io::Read;

/// How a stream's data is encoded, read from its dictionary.
pub(super) struct Filters {
    flate: bool,
    png: Option<Png>,
}

struct Png {
    /// Bytes per pixel and per row, filter byte excluded.
    pixel: usize,
    row: usize,
}

impl Filters {
    pub fn of(dict: &Dict) -> Result<Self, Refusal> {
        let filter = match dict.get(b"Filter") {
            None => None,
            Some(Obj::Name(n)) => Some(*n),
            Some(Obj::Array(filters)) => match filters.as_slice() {
                [] => None,
                [Obj::Name(n)] => Some(*n),
                _ => return Err(Refusal::Unsupported("a stream with several filters".into())),
            },
            Some(_) => return Err(Refusal::Damaged("a stream's /Filter is not a name".into())),
        };
        let flate = match filter {
            None => false,
            Some(n) if n.is(b"FlateDecode") || n.is(b"Fl") => true,
            Some(n) => return Err(Refusal::Unsupported(format!("a stream compressed with /{}", n.text()))),
        };
        let parms = match dict.get(b"DecodeParms").or_else(|| dict.get(b"DP")) {
            Some(Obj::Dict(d)) => Some(d),
            Some(Obj::Array(a)) => a.first().and_then(Obj::dict),
            _ => None,
        };
        let png = match parms.map(|p| (p, p.int(b"Predictor").unwrap_or(1))) {
            None | Some((_, 1)) => None,
            Some((parms, 10..=15)) => Some(Png::of(parms)?),
            Some((_, p)) => return Err(Refusal::Unsupported(format!("a stream with predictor {p}"))),
        };
        Ok(Filters { flate, png })
    }

    /// The decoded data of a stream whose raw data is `raw`.
    pub fn decode(&self, raw: &[u8], work: &mut Work) -> Result<Vec<u8>, Refusal> {
        let data = if self.flate {
            inflate(raw, work)?
        } else {
            within_caps(raw.len(), work)?;
            raw.to_vec()
        };
        Ok(match &self.png {
            Some(png) => png.undo(&data)?,
            None => data,
        })
    }
}

/// Inflates zlib data within what is left of the caps. A stream cut short still yields
/// what was inflated before the cut: damaged documents often end their last stream early.
fn inflate(raw: &[u8], work: &mut Work) -> Result<Vec<u8>, Refusal> {
    let allowed = MAX_STREAM_BYTES.min(work.inflated_left());
    let mut out = Vec::new();
    let result = flate2::read::ZlibDecoder::new(raw).take(allowed as u64 + 1).read_to_end(&mut out);
    within_caps(out.len(), work)?;
    match result {
        Err(_) if out.is_empty() => Err(Refusal::Damaged("a compressed stream cannot be inflated".into())),
        _ => Ok(out),
    }
}

/// Takes `len` decoded bytes off what is left of the caps, or refuses the document.
fn within_caps(len: usize, work: &mut Work) -> Result<(), Refusal> {
    if len > MAX_STREAM_BYTES {
        return Err(Refusal::TooComplex(format!("a stream inflates past {} MiB", MAX_STREAM_BYTES >> 20)));
    }
    if len > work.inflated_left() {
        return Err(Refusal::TooComplex(format!(
            "its streams inflate past {} MiB in all",
            MAX_INFLATED_BYTES >> 20
        )));
    }
    work.inflated(len)
}

impl Png {
    fn of(parms: &Dict) -> Result<Self, Refusal> {
        let get = |key: &[u8], default: i64, max: i64| {
            let v = parms.int(key).unwrap_or(default);
            (1..=max).contains(&v).then_some(v as usize)
        };
        let (Some(colors), Some(bits), Some(columns)) =
            (get(b"Colors", 1, 32), get(b"BitsPerComponent", 8, 16), get(b"Columns", 1, 1 << 20))
        else {
            return Err(Refusal::Damaged("a stream's predictor parameters are out of range".into()));
        };
        Ok(Png { pixel: (colors * bits).div_ceil(8), row: (colors * bits * columns).div_ceil(8) })
    }

    /// Undoes PNG predictors (RFC 2083 §6): each row starts with its filter type.
    fn undo(&self, data: &[u8]) -> Result<Vec<u8>, Refusal> {
        let (bpp, row) = (self.pixel, self.row);
        // Rows are decoded in place: each one reads the row above it from `out`.
        let mut out = Vec::with_capacity(data.len());
        for line in data.chunks_exact(row + 1) {
            let start = out.len();
            out.extend_from_slice(&line[1..]);
            for i in 0..row {
                let left = if i >= bpp { out[start + i - bpp] } else { 0 };
                let up = if start > 0 { out[start - row + i] } else { 0 };
                let corner = if i >= bpp && start > 0 { out[start - row + i - bpp] } else { 0 };
                let add = match line[0] {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                    4 => paeth(left, up, corner),
                    _ => return Err(Refusal::Damaged("a stream's predictor rows are malformed".into())),
                };
                out[start + i] = out[start + i].wrapping_add(add);
            }
        }
        Ok(out)
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
