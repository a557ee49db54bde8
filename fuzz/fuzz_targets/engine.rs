//! libFuzzer's entry for the `engine` target; the check is `yichuang_fuzz::engine::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yichuang_fuzz::engine::check(data));
