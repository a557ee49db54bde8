//! libFuzzer's entry for the `definition` target; the check is `yichuang_fuzz::definition::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yichuang_fuzz::definition::check(data));
