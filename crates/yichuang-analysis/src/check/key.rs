//! The state key: two states are the same when they differ only in times and versions (see
//! the module documentation of `check`), hashed to 128 bits.

use std::fmt::Write as _;
use std::hash::Hasher;

use serde::Serialize;
use yichuang_core::definition::Definition;
use yichuang_core::machine::case::{CaseTimer, Timer};
use yichuang_core::machine::task::TaskTimer;
use yichuang_core::{Date, Instant};

use super::explore::{Explorer, Node};

impl Explorer {
    /// The canonical key of a state (see the module documentation).
    pub(super) fn key(&self, node: &Node, writer: &mut KeyWriter) -> u128 {
        writer.clear();
        // Every field of the case and its tickets is plain data: serializing cannot fail.
        if let Some(case) = node.case() {
            let _ = case.serialize(&mut *writer);
        }
        for ticket in node.engine.tickets() {
            let _ = ticket.serialize(&mut *writer);
        }
        writer.bytes.extend((0..node.supervision.len()).map(|slot| u8::from(node.supervision.supervised(slot))));
        writer.bytes.extend_from_slice(&node.redo);
        write_timer_order(&self.def, node, &mut writer.bytes);
        hash128(&writer.bytes)
    }
}

/// Appends the pending timers in firing order, each as rank, kind, index and whether it is
/// already due; equal instants share a rank.
fn write_timer_order(def: &Definition, node: &Node, out: &mut Vec<u8>) {
    let mut timers: Vec<(Instant, u8, usize)> = Vec::new();
    if let Some(case) = node.case() {
        for (at, timer) in case.timers(def) {
            let (kind, index) = match timer {
                Timer::Case(CaseTimer::DeemedAcceptance) => (0, 0),
                Timer::Case(CaseTimer::Sla) => (1, 0),
                Timer::Task(p, TaskTimer::Sla) => (2, p),
                Timer::Task(p, TaskTimer::Lapse) => (3, p),
                Timer::Case(CaseTimer::CureDue) => (4, 0),
                Timer::Case(CaseTimer::GraceOver) => (5, 0),
                Timer::Case(CaseTimer::DefaultRating) => (6, 0),
            };
            timers.push((at, kind, index));
        }
    }
    for (slot, ticket) in node.engine.tickets().iter().enumerate() {
        if let Some(at) = ticket.next_deadline() {
            timers.push((at, 7, slot));
        }
    }
    timers.sort_unstable();
    let mut rank = 0u32;
    let mut previous = None;
    out.push(0xfe);
    for (at, kind, index) in timers {
        if previous != Some(at) {
            rank += 1;
            previous = Some(at);
        }
        out.extend_from_slice(&rank.to_le_bytes());
        out.extend_from_slice(&[kind, u8::from(at <= node.now)]);
        out.extend_from_slice(&(index as u32).to_le_bytes());
    }
}

/// Whether `s` is a date (`YYYY-MM-DD`) or an instant (`YYYY-MM-DDTHH:MM`) as serialized.
fn is_time_literal(s: &[u8]) -> bool {
    const INSTANT: &[u8] = b"0000-00-00T00:00";
    (s.len() == 10 || s.len() == INSTANT.len())
        && s.iter().zip(INSTANT).all(|(c, p)| if *p == b'0' { c.is_ascii_digit() } else { c == p })
}

fn hash128(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// A serde serializer that writes a compact binary form of a value for the state key: field
/// names are left out (the order is fixed by the type), `version` fields are skipped and every
/// date or instant becomes one marker byte. Much faster than a text format, and it sees every
/// field the core adds.
#[derive(Debug, Default)]
pub(super) struct KeyWriter {
    bytes: Vec<u8>,
    scratch: String,
}

/// The state keys are already hashes: the map uses their low bits as they are.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// See [`KeyHash`].
#[derive(Debug)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Tags that keep the encoding unambiguous.
const TAG_TIME: u8 = 0xf0;
const TAG_STR: u8 = 0xf1;
const TAG_NONE: u8 = 0xf2;
const TAG_SOME: u8 = 0xf3;
const TAG_SEQ: u8 = 0xf4;
const TAG_END: u8 = 0xf5;
const TAG_UNIT: u8 = 0xf6;

impl KeyWriter {
    fn clear(&mut self) {
        self.bytes.clear();
    }

    fn str(&mut self, s: &str) {
        if is_time_literal(s.as_bytes()) {
            self.bytes.push(TAG_TIME);
        } else {
            self.bytes.push(TAG_STR);
            self.bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(s.as_bytes());
        }
    }

    /// Starts a sequence or map with its length, so that no element can be mistaken for its end.
    fn len(&mut self, len: Option<usize>) {
        self.bytes.push(TAG_SEQ);
        let len = len.map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX - 1));
        self.bytes.extend_from_slice(&len.to_le_bytes());
    }

    fn int(&mut self, v: i128) {
        self.bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
}

/// The key writer's error: never produced by the core's plain data.
#[derive(Debug, thiserror::Error)]
#[error("a state could not be encoded")]
pub(super) struct KeyError;

impl serde::ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(_: T) -> KeyError {
        KeyError
    }
}

impl serde::Serializer for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), KeyError> {
        self.bytes.push(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), KeyError> {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), KeyError> {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), KeyError> {
        self.int(u32::from(v).into());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        self.str(v);
        Ok(())
    }
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        // Dates and instants serialize through `collect_str`; recognising them by type spares
        // formatting them (the key's main cost otherwise). Anything else is formatted.
        let name = std::any::type_name::<T>();
        if name == std::any::type_name::<Instant>() || name == std::any::type_name::<Date>() {
            self.bytes.push(TAG_TIME);
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.str(&scratch);
        self.scratch = scratch;
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), KeyError> {
        self.bytes.push(TAG_STR);
        self.bytes.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        self.bytes.push(TAG_SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), KeyError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<(), KeyError> {
        self.int(index.into());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), KeyError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.int(index.into());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, KeyError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.int(index.into());
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, KeyError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, KeyError> {
        self.int(index.into());
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
}

impl serde::ser::SerializeSeq for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTuple for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTupleStruct for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTupleVariant for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeMap for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeStruct for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), KeyError> {
        // Stream versions count events: two paths to the same state differ in length, not in state.
        if name == "version" { Ok(()) } else { value.serialize(&mut **self) }
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeStructVariant for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), KeyError> {
        if name == "version" { Ok(()) } else { value.serialize(&mut **self) }
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yichuang_core::machine::sla::SlaLevel;

    #[test]
    fn time_literals_are_recognised_exactly() {
        for yes in ["2025-01-02", "2025-01-02T09:30"] {
            assert!(is_time_literal(yes.as_bytes()), "{yes}");
        }
        for no in ["2025-1-02", "2025-01-02T9:30", "2025-01-02 09:30", "licence", "", "2025-01-02T09:30Z"] {
            assert!(!is_time_literal(no.as_bytes()), "{no}");
        }
    }

    #[derive(Clone, Serialize)]
    struct Sample {
        name: String,
        at: Instant,
        on: Option<Date>,
        version: u32,
        level: SlaLevel,
    }

    fn key_of(sample: &Sample) -> Vec<u8> {
        let mut writer = KeyWriter::default();
        sample.serialize(&mut writer).unwrap();
        writer.bytes
    }

    #[test]
    fn the_key_ignores_times_and_versions_but_nothing_else() {
        let at: Instant = "2025-01-02T09:30".parse().unwrap();
        let base = Sample { name: "a".into(), at, on: Some(at.date()), version: 1, level: SlaLevel::Normal };
        let later =
            Sample { at: at.plus_minutes(7 * 24 * 60), on: Some(at.date().add_days(9)), version: 9, ..base.clone() };
        assert_eq!(key_of(&base), key_of(&later));
        assert_ne!(key_of(&base), key_of(&Sample { level: SlaLevel::Warning, ..base.clone() }));
        assert_ne!(key_of(&base), key_of(&Sample { name: "b".into(), ..base.clone() }));
        assert_ne!(key_of(&base), key_of(&Sample { on: None, ..base.clone() }));
    }
}
