//! # yichuang-fuzz (模糊测试)
//!
//! Coverage-guided fuzz targets of the places where bytes from outside enter yichuang, each a
//! `check(data: &[u8])` that panics only on a bug:
//!
//! | target | what it feeds | what must hold |
//! |---|---|---|
//! | [`definition`] | RON text to `Definition::from_ron` | a definition or diagnostics, never a panic; diagnostics render; every bundle of a valid definition plans |
//! | [`scenario`] | RON text to `Scenario::from_ron` (next to `examples/scenarios/`) | a scenario or an error that renders, never a panic |
//! | [`http_body`] | a request body to the server's body parsers, then the command to the engine | a 400 or a command; the command decided without a panic; a refused one changes nothing; the invariants hold |
//! | [`stored_event`] | JSON lines as the store keeps them to `EncodedEvent::decode`, then `Engine::apply` | decode and encode round trip; apply refuses what it cannot fold, without a panic, and the invariants hold |
//! | [`engine`] | bytes read as a sequence of commands, complaints and clock moves | DESIGN §4.3's invariants (`yichuang_core::invariants`) after every step; a refused command changes nothing; no due timer left unfired |
//!
//! The binaries under `fuzz_targets/` hand libFuzzer's input to these functions
//! (`cargo fuzz run TARGET`, docs/testing.md); `tests/corpus.rs` replays every committed input of
//! `corpus/TARGET/` through the same function in `cargo test`.

pub mod definition;
pub mod engine;
pub mod http_body;
pub mod invariants;
pub mod scenario;
pub mod stored_event;

/// A target's check: panics only on a bug.
pub type Check = fn(&[u8]);

/// The fuzz targets by name, as `cargo fuzz run` and the corpus directories name them.
pub const TARGETS: [(&str, Check); 5] = [
    ("definition", definition::check),
    ("scenario", scenario::check),
    ("http_body", http_body::check),
    ("stored_event", stored_event::check),
    ("engine", engine::check),
];

/// Reads the input as a stream of bytes; past its end every read is 0, so every input is a
/// complete program.
#[derive(Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }
    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    /// The next two bytes as a little-endian number.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    /// Whether anything is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}
