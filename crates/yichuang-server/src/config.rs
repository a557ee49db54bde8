//! What the service is started with: the definition, the database, the tokens file and the
//! clock. Everything is read and checked before the first request is accepted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use yichuang_core::definition::Definition;
use yichuang_core::{Actor, Instant, Role};

/// Where the event log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing).
    File(PathBuf),
    /// In memory: nothing survives the process (demos and tests).
    Memory,
    /// A PostgreSQL database (`postgres://…` URL; its `search_path` names the schema).
    Postgres(String),
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSetting {
    /// The machine's clock in China Standard Time (UTC+8, no daylight saving).
    System,
    /// Starts at the given hall time and moves only by `POST /v1/clock` (training, demos,
    /// tests of the timers).
    Manual(Instant),
}

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The definition (RON).
    pub definition: PathBuf,
    /// The event log.
    pub database: Database,
    /// The tokens file (RON).
    pub tokens: PathBuf,
    /// The clock.
    pub clock: ClockSetting,
    /// How often the timers are fired when no request comes (they are also fired before every
    /// batch of commands).
    pub timer_interval: Duration,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// A request body must arrive within this time.
    pub body_timeout: Duration,
    /// The connection limits: header and idle timeouts, the connection cap, the shutdown drain.
    pub limits: crate::serve::Limits,
    /// Hall days an idempotency record is kept after its command (0: for ever).
    pub idempotency_days: u32,
    /// Events between two snapshots of the writer's state (0: none; every start folds the whole
    /// log).
    pub snapshot_every: u64,
    /// Signed checkpoints of the chain's head, if a key is given.
    pub checkpoints: Option<crate::audit::CheckpointConfig>,
}

/// The hall time now: the system clock in China Standard Time (UTC+8; China has no daylight
/// saving), to the minute.
pub fn china_now() -> Instant {
    let seconds = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        // A clock set before 1970 is a broken machine; the monotonic floor keeps time sane.
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Instant::from_minutes((seconds + 8 * 3600).div_euclid(60))
}

/// Bearer tokens mapped to actors.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_token: HashMap<String, Actor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: BTreeMap<String, Actor>,
}

impl Tokens {
    /// Reads and checks a tokens file against the definition.
    pub fn load(path: &Path, def: &Definition) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tokens file {}: {e}", path.display()))?;
        Tokens::from_ron(&text, &path.display().to_string(), def)
    }

    /// Parses and checks tokens written in RON:
    /// `(tokens: {"TOKEN": (id: "clerk-li", role: Clerk(window: "intake-1")), …})`.
    pub fn from_ron(text: &str, origin: &str, def: &Definition) -> Result<Tokens, String> {
        // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let file: TokensFile = ron::from_str(text).map_err(|e| {
            format!(
                "{origin}:{}:{}: {}; a tokens file reads (tokens: {{\"TOKEN\": (id: \"PERSON\", role: ROLE), …}})",
                e.span.start.line, e.span.start.col, e.code
            )
        })?;
        let mut problems = Vec::new();
        for (token, actor) in &file.tokens {
            let at = format!("{origin}: token `{token}`");
            if token.len() < 8 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                problems.push(format!("{at}: a token is at least 8 visible ASCII characters"));
            }
            match &actor.role {
                Role::Clerk { window } if def.window(window).is_none() => {
                    let known: Vec<&str> = def.windows().iter().map(|w| w.id.as_str()).collect();
                    problems.push(format!("{at}: unknown window `{window}`; the definition has {}", known.join(", ")));
                }
                Role::Reviewer { department } | Role::Supervisor { department }
                    if def.department_ix(department).is_none() =>
                {
                    let known: Vec<&str> = def.departments().iter().map(|d| d.id.as_str()).collect();
                    problems.push(format!(
                        "{at}: unknown department `{department}`; the definition has {}",
                        known.join(", ")
                    ));
                }
                Role::System => {
                    problems.push(format!("{at}: the System role is the engine's own; no token may act as it"))
                }
                _ => {}
            }
        }
        if file.tokens.is_empty() {
            problems.push(format!("{origin}: no tokens; nobody could use the service"));
        }
        if problems.is_empty() {
            Ok(Tokens { by_token: file.tokens.into_iter().collect() })
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The actor of a token.
    pub fn actor(&self, token: &str) -> Option<&Actor> {
        self.by_token.get(token)
    }

    /// A token of the first actor that `pick` accepts (for tools and tests that act as roles).
    pub fn find(&self, pick: impl Fn(&Actor) -> bool) -> Option<&str> {
        let mut found: Vec<(&String, &Actor)> = self.by_token.iter().filter(|(_, a)| pick(a)).collect();
        found.sort_by(|a, b| a.0.cmp(b.0));
        found.first().map(|(t, _)| t.as_str())
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Definition {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
        Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap()
    }

    #[test]
    fn the_demo_tokens_load() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tokens.ron"));
        let tokens = Tokens::load(path, &def()).unwrap();
        assert!(tokens.len() >= 10);
        let reviewer =
            tokens.find(|a| matches!(&a.role, Role::Reviewer { department } if **department == *"market-access"));
        assert!(reviewer.is_some());
        // Saved by a Windows editor, with a UTF-8 byte-order mark: the same tokens.
        let text = format!("\u{feff}{}", std::fs::read_to_string(path).unwrap());
        assert_eq!(Tokens::from_ron(&text, "bom.ron", &def()).unwrap().len(), tokens.len());
    }

    #[test]
    fn every_problem_is_named() {
        let text = r#"(tokens: {
            "short": (id: "a", role: Applicant),
            "token-clerk": (id: "c", role: Clerk(window: "nowhere")),
            "token-reviewer": (id: "r", role: Reviewer(department: "nobody")),
            "token-system": (id: "s", role: System),
        })"#;
        let e = Tokens::from_ron(text, "t.ron", &def()).unwrap_err();
        assert!(e.contains("`short`: a token is at least 8"), "{e}");
        assert!(e.contains("unknown window `nowhere`"), "{e}");
        assert!(e.contains("unknown department `nobody`"), "{e}");
        assert!(e.contains("System role"), "{e}");
        let e = Tokens::from_ron("(tokens: [])", "t.ron", &def()).unwrap_err();
        assert!(e.starts_with("t.ron:1:"), "{e}");
    }

    #[test]
    fn china_time_is_utc_plus_eight() {
        let now = china_now();
        let utc_minutes = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 / 60;
        assert!((now.minutes() - utc_minutes - 480).abs() <= 1);
    }
}
