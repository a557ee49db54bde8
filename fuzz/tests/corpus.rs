//! Replays every committed input of the fuzz corpora (`fuzz/corpus/TARGET/`) through the same
//! check the fuzzer runs, so that what the fuzzer found or was seeded with stays a regression
//! test of `cargo test`. docs/testing.md says how the corpora were grown.

use std::path::PathBuf;

#[test]
fn every_corpus_input_passes_its_check() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, check) in yichuang_fuzz::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of {target} is empty");
        for input in &inputs {
            let data = match std::fs::read(input) {
                Ok(data) => data,
                // A fuzzer running on the corpus replaces inputs by smaller ones as it goes.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", input.display()),
            };
            let name = input.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("fuzz target {target} fails on corpus/{target}/{name}: {message}");
            }
        }
        println!("{target}: {} inputs", inputs.len());
    }
}
