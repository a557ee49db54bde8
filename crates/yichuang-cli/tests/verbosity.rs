//! `-v` and `-q`: log lines on stderr, apart from the command's output; `RUST_LOG` overrides.

use std::process::{Command, Output};

fn minimal() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/minimal.ron").to_owned()
}

fn yichuang(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yichuang"));
    command.args(args).env_remove("RUST_LOG");
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn verbose_adds_log_lines_on_stderr_and_quiet_removes_them() {
    let def = minimal();
    let quiet_run = yichuang(&["validate", &def], None);
    assert!(quiet_run.status.success());
    assert_eq!(text(&quiet_run.stderr), "", "by default only warnings and errors");

    let verbose = yichuang(&["-v", "validate", &def], None);
    assert!(verbose.status.success());
    assert_eq!(verbose.stdout, quiet_run.stdout, "the output does not change");
    let log = text(&verbose.stderr);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("INFO") && lines[0].contains("started") && lines[0].contains("command=\"validate\""),
        "{log}"
    );
    assert!(lines[1].contains("finished") && lines[1].contains("ok=true"), "{log}");
    // RFC 3339 timestamps.
    let stamp = lines[0].split_whitespace().next().unwrap();
    assert!(stamp.len() >= 20 && stamp.as_bytes()[10] == b'T' && stamp.ends_with('Z'), "{stamp}");

    // After the subcommand too (a global flag), and -q keeps the output but drops the lines.
    let after = yichuang(&["validate", "--verbose", &def], None);
    assert_eq!(text(&after.stderr).lines().count(), 2);
    let quiet = yichuang(&["-q", "validate", &def], Some(""));
    assert!(quiet.status.success());
    assert_eq!((text(&quiet.stderr), quiet.stdout), (String::new(), quiet_run.stdout));
}

#[test]
fn rust_log_takes_precedence_and_a_bad_one_is_a_usage_error() {
    let def = minimal();
    let run = yichuang(&["validate", &def], Some("yichuang=info"));
    assert_eq!(text(&run.stderr).lines().count(), 2, "{}", text(&run.stderr));
    let run = yichuang(&["-v", "validate", &def], Some("off"));
    assert_eq!(text(&run.stderr), "");
    let run = yichuang(&["validate", &def], Some("yichuang=loud"));
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("RUST_LOG `yichuang=loud` is not a filter"), "{}", text(&run.stderr));
    let run = yichuang(&["-q", "-v", "validate", &def], None);
    assert_eq!(run.status.code(), Some(2), "-q and -v together are a usage error");
}
