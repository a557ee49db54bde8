//! End-to-end tests of `yichuang diff OLD NEW`: exit codes 0 (same version), 1 (different),
//! 2 (unreadable or invalid file, usage), the text and the JSON output.

use std::path::Path;
use std::process::Command;

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hall() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hall.ron").display().to_string()
}

/// A copy of the hall with each `(from, to)` replaced once, under the test target directory.
fn variant(tag: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(hall()).expect("fixture is readable");
    for (from, to) in edits {
        assert!(text.contains(from), "hall.ron has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("diff-{tag}.ron"));
    std::fs::write(&path, text).expect("temp file is writable");
    path.display().to_string()
}

/// Runs `yichuang` and demands exit code `code`, showing both streams if it differs.
fn check(args: &[&str], code: i32) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_yichuang")).args(args).output().expect("the binary runs");
    let run = Run {
        code: output.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    assert_eq!(run.code, code, "yichuang {args:?}\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

/// The two lines that show both files and their versions.
fn version_lines(run: &Run) -> (String, String) {
    let mut lines = run.stdout.lines();
    (lines.next().unwrap_or_default().to_owned(), lines.next().unwrap_or_default().to_owned())
}

#[test]
fn same_meaning_exits_0_and_shows_one_version_twice() {
    let hall = hall();
    // Comments and layout are not part of the meaning.
    let relaid = variant("relaid", &[("    id: \"cli-hall\",", "// 注释\n  id: \"cli-hall\",")]);
    let run = check(&["diff", &hall, &relaid], 0);
    let (old, new) = version_lines(&run);
    assert!(old.starts_with(&format!("old: {hall} (cli-hall version ")), "{old}");
    assert!(new.starts_with(&format!("new: {relaid} (cli-hall version ")), "{new}");
    assert_eq!(old.rsplit(' ').next(), new.rsplit(' ').next(), "same version");
    assert!(run.stdout.ends_with("identical: same version (layout and comments aside)\n"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn changes_exit_1_with_each_effect() {
    let hall = hall();
    let new = variant(
        "shortened",
        &[
            ("            promised_days: 10,\n", "            promised_days: 8,\n"),
            ("                (item: \"fire-check\", after: [\"business-licence\"]),\n", ""),
        ],
    );
    let run = check(&["diff", &hall, &new], 1);
    let expected = "2 changes:\n\
        - member open-restaurant/fire-check: 公众聚集场所投入使用、营业前消防安全检查\n    \
        may block migration: member removed: unstarted tasks leave on migration, a task under review or decided blocks it\n\
        ~ limit open-restaurant: bundle promised_days 10 → 8\n    \
        on migration: limit shortened: applies to running cases on migration (the due date becomes the earlier of the old and the new)\n";
    assert!(run.stdout.ends_with(expected), "{}", run.stdout);
    let (old, new_line) = version_lines(&run);
    assert_ne!(old.rsplit(' ').next(), new_line.rsplit(' ').next(), "two versions");
    assert_eq!(run.stderr, "", "a difference is not an error");

    let run = check(&["diff", &hall, &new, "--format", "json"], 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["identical"], false);
    assert_eq!(json["old"]["file"], hall.as_str());
    assert_eq!(json["new"]["id"], "cli-hall");
    assert_eq!(json["old"]["version"].as_str().map(str::len), Some(16));
    assert_ne!(json["old"]["version"], json["new"]["version"]);
    let changes = json["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["section"], "limit");
    assert_eq!(changes[1]["subject"], "open-restaurant");
    assert_eq!(changes[1]["change"], "changed");
    assert_eq!(changes[1]["impact"], "on_migration");
    assert_eq!(changes[0]["impact"], "may_block_migration");
}

#[test]
fn identical_json_exits_0() {
    let hall = hall();
    let run = check(&["diff", &hall, &hall, "--format", "json"], 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["identical"], true);
    assert_eq!(json["changes"], serde_json::json!([]));
    assert_eq!(json["old"]["version"], json["new"]["version"]);
}

#[test]
fn invalid_or_missing_file_exits_2() {
    let hall = hall();
    let broken = variant("broken", &[("lead: \"market-access\"", "lead: \"nobody\"")]);
    let run = check(&["diff", &hall, &broken], 2);
    assert!(run.stderr.contains("is not a valid definition"), "{}", run.stderr);
    assert!(run.stderr.contains("nobody"), "the diagnostic is shown: {}", run.stderr);
    assert_eq!(run.stdout, "");
    let run = check(&["diff", "no-such-file.ron", &hall], 2);
    assert!(run.stderr.contains("cannot read `no-such-file.ron`"), "{}", run.stderr);
    check(&["diff", &hall], 2);
    check(&["diff", &hall, &hall, "--format", "yaml"], 2);
}
