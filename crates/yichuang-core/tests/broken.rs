//! The corpus of broken definitions (`tests/data/broken/`): each file marks every problem it must
//! produce, at its exact line and column, and nothing else may be reported.
//!
//! A line that starts with `//~` is an expectation about the nearest line above it that is not
//! one: the `^` stands under the column (in characters) where the diagnostic must point, and the
//! text after it is a part of the diagnostic's message. Several expectations may stack under one
//! line. On a mismatch the test prints every diagnostic of the file as such a line, ready to
//! compare.

use std::path::{Path, PathBuf};

use yichuang_core::Definition;

/// An expected diagnostic: line, column (1-based, characters) and a part of the message.
#[derive(Debug)]
struct Expected {
    line: usize,
    col: usize,
    message: String,
}

fn expectations(text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut target = None;
    for (n, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with("//~") {
            target = Some(n + 1);
            continue;
        }
        let caret = line.chars().position(|c| c == '^').unwrap_or_else(|| panic!("line {}: no `^`: {line}", n + 1));
        let message: String = line.chars().skip(caret + 1).collect();
        out.push(Expected {
            line: target.expect("an expectation follows a line"),
            col: caret + 1,
            message: message.trim().to_owned(),
        });
    }
    out
}

/// What is wrong with one file's diagnostics, if anything.
fn check(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("the corpus file is readable");
    let expected = expectations(&text);
    if expected.is_empty() {
        return Some("the file marks no expected diagnostic".into());
    }
    let actual = match Definition::from_ron(&text, "broken.ron") {
        Ok(_) => return Some("the file loads without any problem".into()),
        Err(diagnostics) => diagnostics.0,
    };
    let mut unmatched: Vec<_> = actual.iter().collect();
    let mut missing = Vec::new();
    for e in &expected {
        match unmatched.iter().position(|d| d.location == Some((e.line, e.col)) && d.message.contains(&e.message)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(format!("{}:{}: {}", e.line, e.col, e.message)),
        }
    }
    let helpless: Vec<String> = actual.iter().filter(|d| d.help.is_empty()).map(|d| d.message.clone()).collect();
    if missing.is_empty() && unmatched.is_empty() && helpless.is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let rendered: Vec<String> = actual
        .iter()
        .map(|d| match d.location {
            Some((line, col)) => format!(
                "{}\n//~{}^ {}   (at {})",
                lines.get(line - 1).copied().unwrap_or(""),
                " ".repeat(col.saturating_sub(4)),
                d.message,
                d.path
            ),
            None => format!("(no location) {} (at {})", d.message, d.path),
        })
        .collect();
    Some(format!(
        "missing:\n  {}\nunexpected:\n  {}\nwithout help: {helpless:?}\nevery diagnostic:\n{}",
        missing.join("\n  "),
        unmatched.iter().map(|d| format!("{:?}: {}", d.location, d.message)).collect::<Vec<_>>().join("\n  "),
        rendered.join("\n")
    ))
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the corpus exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_broken_file_gives_exactly_its_marked_diagnostics() {
    let files = corpus();
    assert!(files.len() >= 9, "{files:?}");
    let failures: Vec<String> =
        files.iter().filter_map(|path| check(path).map(|why| format!("== {}\n{why}", path.display()))).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The check itself fails when a diagnostic moves, disappears or appears.
#[test]
fn the_corpus_check_catches_a_moved_a_missing_and_an_extra_diagnostic() {
    let dir = std::env::temp_dir().join(format!("yichuang-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read_to_string(corpus().iter().find(|p| p.ends_with("limits.ron")).unwrap()).unwrap();
    let mark = "//~                        ^ promised limit 4 wd";
    assert!(original.contains(mark));
    for (name, broken) in [
        ("moved", original.replacen(mark, "//~                       ^ promised limit 4 wd", 1)),
        ("missing", original.replacen("promised_days: 4,", "promised_days: 3,", 1)),
        ("extra", original.replacen("promised_days: 10,", "promised_days: 30,", 1)),
    ] {
        let path = dir.join(format!("{name}.ron"));
        std::fs::write(&path, broken).unwrap();
        assert!(check(&path).is_some(), "{name} went unnoticed");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
