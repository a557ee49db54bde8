//! Bytes the engine holds per case (issue 18 part 4), as the growth of the process's resident
//! memory (VmRSS; the workspace forbids the unsafe code a counting allocator needs) while an
//! engine takes many cases: an open case (submitted and accepted, its approval tasks
//! running), the same case once finished and compacted (what the service keeps of a closed case,
//! `Engine::compact`), and a finished case that is not compacted.
//!
//! ```text
//! cargo run --release -p yichuang-benches --example case_memory -- 20000
//! ```
//!
//! The argument is the number of cases per measurement (default 20,000); each measurement is a
//! fresh engine, and memory freed by one (or by compacting) is reused by the next allocations,
//! so the figures are what the heap grows by per case, allocator overhead included. Each case is a
//! 我要开饭店 (`open-restaurant`) application with every material, as `lifecycle` drives it.

use yichuang::prelude::*;
use yichuang_benches::driver;
use yichuang_benches::lifecycle::hall;

/// The process's resident memory in bytes (`VmRSS` of /proc/self/status).
fn in_use() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kib: isize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// Bytes per case held by an engine of `cases` cases, each brought to its state by `drive`, with
/// the case table reserved up front (as a replay does) so that its growth is not counted twice.
fn per_case(cases: usize, drive: &dyn Fn(&mut Engine, CaseId, Instant)) -> f64 {
    let h = hall();
    let mut engine = Engine::new(std::sync::Arc::clone(&h.def));
    engine.reserve_cases(cases);
    let before = in_use();
    let mut out = Vec::new();
    for _ in 0..cases {
        let submit = Command::Submit(Box::new(h.submission.clone()));
        let now = h.start;
        let case = engine.open_into(submit, &Ctx { now, actor: &h.staff.intake }, &mut out).expect("submitted");
        driver::run(&mut engine, case, &Command::Accept, now, &h.staff.intake, &mut out).expect("accepted");
        drive(&mut engine, case, now);
        out.clear();
    }
    let bytes = (in_use() - before) as f64 / cases as f64;
    assert_eq!(engine.cases_held(), cases);
    bytes
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cases: usize = args.next().map_or(20_000, |n| n.parse().expect("a number of cases"));
    let Some(mode) = args.next() else {
        // Each measurement in a process of its own, so that none reuses memory another freed.
        println!("{cases} cases of open-restaurant each, resident bytes per case:");
        for (mode, what) in [
            ("open", "open (accepted, tasks running)"),
            ("closed", "closed, not compacted"),
            ("compacted", "closed and compacted (what the service keeps)"),
        ] {
            let exe = std::env::current_exe().expect("this program");
            let out = std::process::Command::new(exe).arg(cases.to_string()).arg(mode).output().expect("runs");
            println!("  {what:<48} {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        return;
    };
    let h = hall();
    let close = |engine: &mut Engine, case: CaseId, mut now: Instant| {
        let mut out = Vec::new();
        driver::drive_to_close(engine, case, &mut now, 180, &h.staff, &mut out).expect("closed");
    };
    let bytes = match mode.as_str() {
        "open" => per_case(cases, &|_, _, _| {}),
        "closed" => per_case(cases, &|engine, case, now| close(engine, case, now)),
        "compacted" => per_case(cases, &|engine, case, now| {
            close(engine, case, now);
            assert!(engine.compact(case));
        }),
        other => panic!("unknown mode {other}: open, closed or compacted"),
    };
    println!("{bytes:.0}");
}
