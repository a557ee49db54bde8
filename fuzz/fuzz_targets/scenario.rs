//! libFuzzer's entry for the `scenario` target; the check is `yichuang_fuzz::scenario::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yichuang_fuzz::scenario::check(data));
