//! Any bytes at all, as the body of a request to the client's local IPP printer: the
//! bounds are checked first (`ream_print::ipp_request`), then the `ipp` crate parses what
//! they let through, as the printer does. Neither may panic, hang or run out of memory,
//! and whatever the bounds accept stays within them.
#![no_main]

use ream_print::ipp_request::{scan, LIMITS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Some(end)) = scan(data, &LIMITS) {
        assert!(end <= LIMITS.max_bytes + 1 && end <= data.len(), "accepted past the bounds");
        let reader = ipp::reader::IppReader::new(std::io::Cursor::new(data[..end].to_vec()));
        let _ = ipp::parser::IppParser::new(reader).parse();
    }
});
