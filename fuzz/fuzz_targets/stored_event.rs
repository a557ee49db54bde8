//! libFuzzer's entry for the `stored_event` target; the check is `yichuang_fuzz::stored_event::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yichuang_fuzz::stored_event::check(data));
