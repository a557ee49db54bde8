//! libFuzzer's entry for the `http_body` target; the check is `yichuang_fuzz::http_body::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yichuang_fuzz::http_body::check(data));
