//! Any bytes at all, given to the page counter: it must answer with at least one page
//! or a refusal, never panic, hang or run out of memory (`scripts/fuzz` runs it with
//! libFuzzer's time and memory limits).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(counted) = ream_print::pdf::count(data) {
        assert!(counted.pages > 0, "counted no pages instead of refusing");
    }
});
