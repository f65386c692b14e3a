//! Bounds on an IPP request (RFC 8010) before anything parses it: the attribute section
//! is read and checked first, so a request of a million attributes, of collections nested
//! without end, or of attributes that never end costs a bounded amount of memory and time
//! and gets a clear IPP status. The document that follows is left to stream.

use futures_util::io::{AsyncRead, AsyncReadExt};

/// What one request may hold before its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes from the version to the end-of-attributes tag.
    pub max_bytes: usize,
    /// Attributes and additional values, collection members included.
    pub max_attributes: usize,
    /// Collections within collections.
    pub max_depth: usize,
}

/// Far above what CUPS or any IPP Everywhere client sends (a few kilobytes, some dozens
/// of attributes, collections two deep), far below what would hurt.
pub const LIMITS: Limits = Limits { max_bytes: 256 * 1024, max_attributes: 2_000, max_depth: 8 };

/// Why a request is refused before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Past a limit: `client-error-request-entity-too-large`.
    TooLarge(String),
    /// Not IPP: `client-error-bad-request`.
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLarge(why) | Refusal::Malformed(why) => f.write_str(why),
        }
    }
}

const END_OF_ATTRIBUTES: u8 = 0x03;
const BEGIN_COLLECTION: u8 = 0x34;
const END_COLLECTION: u8 = 0x37;
const EXTENSION: u8 = 0x7f;
const TEXT_WITH_LANGUAGE: u8 = 0x35;
const NAME_WITH_LANGUAGE: u8 = 0x36;

/// Whether `value` is a language and a text, each with its two-byte length, and nothing else.
fn with_language_fits(value: &[u8]) -> bool {
    let part = |at: usize| value.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let Some(language) = part(0) else { return false };
    let Some(text) = part(2 + language) else { return false };
    2 + language + 2 + text == value.len()
}

/// Checks the request so far: `Some(n)` when its attribute section ends at byte `n` (the
/// document starts there), `None` while more bytes are needed.
pub fn scan(buf: &[u8], limits: &Limits) -> Result<Option<usize>, Refusal> {
    let too_long = || Refusal::TooLarge(format!("the request's attributes pass {} bytes", limits.max_bytes));
    let mut pos = 8;
    let (mut attributes, mut depth) = (0usize, 0usize);
    loop {
        if pos > limits.max_bytes {
            return Err(too_long());
        }
        let Some(&tag) = buf.get(pos) else {
            return if buf.len() > limits.max_bytes { Err(too_long()) } else { Ok(None) };
        };
        if tag == END_OF_ATTRIBUTES {
            if depth > 0 {
                return Err(Refusal::Malformed("a collection is not closed".into()));
            }
            return Ok(Some(pos + 1));
        }
        if tag < 0x10 {
            // Another group begins.
            if depth > 0 {
                return Err(Refusal::Malformed("a group begins inside a collection".into()));
            }
            pos += 1;
            continue;
        }
        if tag == EXTENSION {
            return Err(Refusal::Malformed("extended value tags are not supported".into()));
        }
        // value-tag, name-length, name, value-length, value
        let Some(name_len) = buf.get(pos + 1..pos + 3).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return Ok(None);
        };
        let value_at = pos + 3 + name_len;
        let Some(value_len) =
            buf.get(value_at..value_at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return if value_at > limits.max_bytes { Err(too_long()) } else { Ok(None) };
        };
        let value = buf.get(value_at + 2..value_at + 2 + value_len);
        if matches!(tag, TEXT_WITH_LANGUAGE | NAME_WITH_LANGUAGE) {
            // Two length-prefixed strings that fill the value exactly (the `ipp` crate
            // trusts the inner lengths: the fuzzer found it reading past the value).
            let Some(value) = value else { return Ok(None) };
            if !with_language_fits(value) {
                return Err(Refusal::Malformed("a value with a language does not hold together".into()));
            }
        }
        attributes += 1;
        if attributes > limits.max_attributes {
            return Err(Refusal::TooLarge(format!(
                "the request has more than {} attributes",
                limits.max_attributes
            )));
        }
        match tag {
            BEGIN_COLLECTION => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(Refusal::TooLarge(format!(
                        "the request nests collections deeper than {}",
                        limits.max_depth
                    )));
                }
            }
            END_COLLECTION => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| Refusal::Malformed("a collection ends that never began".into()))?;
            }
            _ => {}
        }
        pos = value_at + 2 + value_len;
    }
}

/// Reads `body` until the request's attribute section is complete and within `limits`:
/// the bytes read (the section, and the first of the document if they came with it), to
/// be parsed before the rest of `body`.
pub async fn read_head<R: AsyncRead + Unpin>(body: &mut R, limits: &Limits) -> Result<Vec<u8>, Refusal> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if scan(&buf, limits)?.is_some() {
            return Ok(buf);
        }
        let n = body
            .read(&mut chunk)
            .await
            .map_err(|e| Refusal::Malformed(format!("the request broke off: {e}")))?;
        if n == 0 {
            return Err(Refusal::Malformed("the request ends before its attributes do".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        vec![2, 0, 0, 2, 0, 0, 0, 1]
    }

    fn attribute(out: &mut Vec<u8>, tag: u8, name: &str, value: &[u8]) {
        out.push(tag);
        out.extend((name.len() as u16).to_be_bytes());
        out.extend(name.as_bytes());
        out.extend((value.len() as u16).to_be_bytes());
        out.extend(value);
    }

    fn request(attributes: usize) -> Vec<u8> {
        let mut r = header();
        r.push(0x01);
        attribute(&mut r, 0x47, "attributes-charset", b"utf-8");
        attribute(&mut r, 0x48, "attributes-natural-language", b"en");
        for i in 0..attributes {
            attribute(&mut r, 0x44, &format!("x-{i}"), b"value");
        }
        r.push(END_OF_ATTRIBUTES);
        r.extend(b"%PDF-1.4 the document");
        r
    }

    #[test]
    fn an_ordinary_request_ends_where_its_document_begins() {
        let r = request(10);
        let end = scan(&r, &LIMITS).unwrap().unwrap();
        assert_eq!(&r[end..], b"%PDF-1.4 the document");
        // Cut anywhere before the end of its attributes: more is needed, nothing refused.
        for cut in 0..end {
            assert_eq!(scan(&r[..cut], &LIMITS), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn too_many_attributes_too_many_bytes_or_too_deep_are_refused() {
        assert!(matches!(scan(&request(LIMITS.max_attributes + 1), &LIMITS), Err(Refusal::TooLarge(_))));
        // Long values, few attributes: past the size.
        let mut r = header();
        r.push(0x01);
        for i in 0..10 {
            attribute(&mut r, 0x41, &format!("big-{i}"), &[b'x'; 60_000]);
        }
        assert!(matches!(scan(&r, &LIMITS), Err(Refusal::TooLarge(_))), "without waiting for the end");
        // Collections within collections.
        let mut r = header();
        r.push(0x02);
        for _ in 0..20 {
            attribute(&mut r, BEGIN_COLLECTION, "media-col", b"");
        }
        assert!(matches!(scan(&r, &LIMITS), Err(Refusal::TooLarge(_))));
    }

    #[test]
    fn broken_structure_is_malformed() {
        let mut open = header();
        open.push(0x02);
        attribute(&mut open, BEGIN_COLLECTION, "media-col", b"");
        open.push(END_OF_ATTRIBUTES);
        assert!(matches!(scan(&open, &LIMITS), Err(Refusal::Malformed(_))));
        let mut stray = header();
        stray.push(0x02);
        attribute(&mut stray, END_COLLECTION, "", b"");
        assert!(matches!(scan(&stray, &LIMITS), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn a_value_with_a_language_must_hold_together() {
        let with = |value: &[u8]| {
            let mut r = header();
            r.push(0x01);
            attribute(&mut r, NAME_WITH_LANGUAGE, "job-name", value);
            r.push(END_OF_ATTRIBUTES);
            scan(&r, &LIMITS)
        };
        assert!(with(b"\x00\x02en\x00\x03abc").unwrap().is_some());
        // What the fuzzer found: "en" read as a length of 25966.
        for bad in [&b"en"[..], b"\x00\x02en\x00\x09abc", b"\x00\x02en\x00\x01abc", b"\x00"] {
            assert!(matches!(with(bad), Err(Refusal::Malformed(_))), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_head_is_read_in_pieces_and_the_rest_left_to_stream() {
        let r = request(3);
        let mut body = futures_util::io::Cursor::new(r.clone());
        let head = read_head(&mut body, &LIMITS).await.unwrap();
        let mut rest = Vec::new();
        body.read_to_end(&mut rest).await.unwrap();
        assert_eq!([head, rest].concat(), r);
        let mut short = futures_util::io::Cursor::new(r[..20].to_vec());
        assert!(matches!(read_head(&mut short, &LIMITS).await, Err(Refusal::Malformed(_))));
    }
}
