//! Memory of a run does not grow with the replications: each replication's result (its
//! histograms weigh about 0.4 MB) is folded into the pooled statistics as soon as it is next in
//! replication order, and dropped. Measured with the process's peak resident set (Linux).

#![cfg(target_os = "linux")]

use std::path::Path;

use yichuang_sim::{RunOptions, Scenario, simulate};

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {status}"));
    let kb: usize = line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of kB");
    kb * 1024
}

/// Peak resident memory while `f` runs, above the resident memory when it started.
fn peak_growth(f: impl FnOnce()) -> usize {
    // Resets the peak to the current resident set; where the kernel refuses, the peak stays the
    // highest so far, which can only make the growth measured larger.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = status_bytes("VmRSS:");
    f();
    status_bytes("VmHWM:").saturating_sub(start)
}

#[test]
fn memory_does_not_grow_with_the_replications() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/parity-parallel.ron");
    let scenario = Scenario::load(&path).expect("the parity scenario loads");
    let run = |replications: u32| {
        let options =
            RunOptions { replications: Some(replications), cases: Some(5), threads: 2, ..RunOptions::default() };
        let mut report = None;
        let peak = peak_growth(|| report = Some(simulate(&scenario, &options).expect("runs")));
        (peak, report.expect("a report"))
    };
    let (few, _) = run(100);
    let (many, report) = run(1_000);
    assert_eq!(report.replications, 1_000);
    eprintln!("peak growth: {} KB at 100 replications, {} KB at 1,000", few >> 10, many >> 10);
    // 900 more replications may add their few scalars (well under 1 KB each), not their
    // histograms (about 0.4 MB each, 360 MB in all).
    assert!(many < few + (64 << 20), "peak growth {many} bytes at 1,000 replications against {few} at 100");
}
