//! Writes the seed corpus of the `stored_event` target: the event logs (JSON lines, as the
//! stores keep each event's body) that the `engine` target's seeds produce.
//!
//! `cargo run -p yichuang-fuzz --example seed_logs` (from the repository root).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut seeds: Vec<PathBuf> =
        std::fs::read_dir(root.join("engine"))?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    seeds.sort();
    for seed in seeds.iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-"))) {
        let log = yichuang_fuzz::engine::log(&std::fs::read(seed)?);
        let lines: Vec<String> =
            log.into_iter().map(|r| yichuang_store::EncodedEvent::encode(r).json().to_owned()).collect();
        let name = seed.file_name().unwrap_or_default().to_string_lossy().replace("seed-", "seed-log-");
        std::fs::write(root.join("stored_event").join(name), lines.join("\n") + "\n")?;
    }
    Ok(())
}
