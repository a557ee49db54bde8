//! The stored event decoder (`EncodedEvent::decode`, what every store runs on each row it
//! reads) and the fold of what it decodes (`Engine::apply`, what the service's start-up replay
//! and `EventStore::verify` run).

use std::sync::{Arc, OnceLock};

use yichuang_core::{Definition, Engine, Recorded};
use yichuang_store::EncodedEvent;

/// The test hall of the core's tests, the definition the seed logs were written against.
pub fn definition() -> Arc<Definition> {
    static DEF: OnceLock<Arc<Definition>> = OnceLock::new();
    DEF.get_or_init(|| {
        let text = include_str!("../../crates/yichuang-core/tests/data/hall.ron");
        Arc::new(Definition::from_ron(text, "hall.ron").expect("the test hall loads"))
    })
    .clone()
}

/// Reads `data` as JSON lines, one stored event body each: each decodes or is refused; a
/// decoded event encodes to JSON that decodes to the same event; the events are folded in
/// order until the engine refuses one. A forged log may fold and still break the invariants
/// (an approval "by" an applicant): the replay audit reports that, so here the invariant checks
/// must only answer, without a panic; and the folded prefix replays at once to the same cases.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let def = definition();
    let mut engine = Engine::new(def.clone());
    let mut log: Vec<Recorded> = Vec::new();
    for line in text.lines().take(400) {
        let Ok(decoded) = EncodedEvent::decode(line) else { continue };
        let again = EncodedEvent::encode(decoded.record().clone());
        let back = EncodedEvent::decode(again.json()).expect("an encoded event decodes");
        assert_eq!(back.record(), decoded.record(), "decode ∘ encode is the identity");
        assert_eq!(again.json(), EncodedEvent::encode(back.record().clone()).json(), "the encoding is canonical");
        match engine.apply(log.len(), decoded.record()) {
            Ok(()) => log.push(decoded.record().clone()),
            Err(e) => {
                assert!(!e.to_string().is_empty(), "the replay error renders");
                break;
            }
        }
    }
    // A refused event may leave the engine that refused it changed (a case's first event
    // inserts the case before its fold is refused): replay stops there, so only the prefix
    // that folded is compared, event by event against at once.
    let mut engine = Engine::new(def.clone());
    for (position, rec) in log.iter().enumerate() {
        engine.apply(position, rec).expect("an event that folded once folds again");
    }
    engine.rebuild_timers();
    let at_once = Engine::replay(def.clone(), &log).expect("a log that folded event by event replays");
    let cases = |e: &Engine| serde_json::to_string(&e.cases().collect::<Vec<_>>()).expect("cases serialize");
    let tickets = |e: &Engine| serde_json::to_string(e.tickets()).expect("tickets serialize");
    assert_eq!(cases(&at_once), cases(&engine), "replay at once and event by event agree on the cases");
    assert_eq!(tickets(&at_once), tickets(&engine), "and on the tickets");
    let _ = crate::invariants::violations(&at_once, &log);
}
