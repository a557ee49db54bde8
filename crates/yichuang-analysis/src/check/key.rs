//! The state key: two states are the same when they differ only by a shift of every date and
//! instant by whole working days (and in versions), see the module documentation of `check`;
//! hashed to 128 bits.

use std::fmt::Write as _;
use std::hash::Hasher;
use std::sync::Arc;

use serde::Serialize;
use yichuang_core::definition::Definition;
use yichuang_core::{Date, Instant, TicketState};

use super::explore::{Explorer, Node, Part};

impl Explorer {
    /// The canonical key of a state for `part` (see the module documentation).
    pub(super) fn key(&self, part: Part, node: &Node, writer: &mut KeyWriter) -> u128 {
        writer.clear();
        writer.today = Some(node.now.date());
        // The clock itself: its time of day (its date is the origin every other time is
        // measured from).
        writer.time(node.now.date(), Some(node.now.minute_of_day()));
        if let Part::Ticket(slot) = part {
            let slot = usize::from(slot);
            if let Some(ticket) = node.engine.tickets().get(slot) {
                // A ticket's rules read the clock through today's date and whether the office is
                // still open, and its stored times only through its pending deadline (the
                // opening, submission, accountability and closing times are records): times
                // already past are one marker.
                writer.skip_id = true;
                writer.erase_past = Some(node.now);
                let _ = ticket.serialize(&mut *writer);
                writer.skip_id = false;
                writer.erase_past = None;
            }
            writer.bytes.push(u8::from(node.supervision.supervised(slot)));
            writer.bytes.push(node.redo.get(slot).copied().unwrap_or(0));
            return hash128(&writer.bytes);
        }
        // A final case takes no command and has no timer (no row of its spec leaves a final
        // state), and no ticket reads it: only its final state and outcome still matter.
        match node.case() {
            Some(case) if case.state().is_final() => {
                writer.bytes.extend_from_slice(&[0xfa, case.state() as u8]);
                let _ = case.outcome().serialize(&mut *writer);
            }
            Some(case) => {
                let _ = case.serialize(&mut *writer);
                // The recalls used so far bound those still proposed.
                writer.bytes.extend_from_slice(&[node.recalls, node.returns]);
            }
            None => {}
        }
        if part == Part::Product {
            for (slot, ticket) in node.engine.tickets().iter().enumerate() {
                // A closed ticket is final likewise: nothing about it changes or is read again.
                if ticket.state() == TicketState::Closed {
                    writer.bytes.push(0xfb);
                    continue;
                }
                let _ = ticket.serialize(&mut *writer);
                writer.bytes.push(u8::from(node.supervision.supervised(slot)));
                writer.bytes.push(node.redo.get(slot).copied().unwrap_or(0));
            }
        }
        hash128(&writer.bytes)
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
/// date or instant is written relative to the state's clock: the working days from today to its
/// date (negative in the past), whether that date is a working day, and its time of day. Much
/// faster than a text format, and it sees every field the core adds.
#[derive(Debug)]
pub(super) struct KeyWriter {
    bytes: Vec<u8>,
    scratch: String,
    def: Arc<Definition>,
    /// The date of the state's clock, the origin of relative times (`None`: times are written
    /// as one marker byte).
    today: Option<Date>,
    /// Leave out fields named `id` (a ticket's number, when tickets are compared across slots).
    skip_id: bool,
    /// Write every time not after the clock (and every date before today) as one marker: a
    /// ticket's rules never read a past time (see [`Explorer::key`]).
    erase_past: Option<Instant>,
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
const TAG_PAST: u8 = 0xf7;

impl KeyWriter {
    pub(super) fn new(def: &Arc<Definition>) -> KeyWriter {
        KeyWriter {
            bytes: Vec::new(),
            scratch: String::new(),
            def: def.clone(),
            today: None,
            skip_id: false,
            erase_past: None,
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Writes a date (`minute` `None`) or an instant relative to `today`: working days from
    /// today to it, whether it is a working day, its time of day. Two states whose times all
    /// differ by the same number of working days get the same bytes: the calendar's working
    /// days all have the same office hours, so nothing the engine computes from them (working
    /// days and working minutes) tells the states apart. A date outside the calendar is
    /// written as its distance in calendar days, marked.
    fn time(&mut self, date: Date, minute: Option<u32>) {
        self.bytes.push(TAG_TIME);
        let Some(today) = self.today else { return };
        if let Some(now) = self.erase_past {
            let past = match minute {
                Some(m) => date.at_minute(m) <= now,
                None => date < now.date(),
            };
            if past {
                self.bytes.push(TAG_PAST);
                return;
            }
        }
        let cal = self.def.calendar();
        let (delta, working) = match (cal.working_days_between(today, date), cal.is_working_day(date)) {
            (Ok(delta), Ok(working)) => (delta, u8::from(working)),
            _ => (i64::from(date.days_since_epoch() - today.days_since_epoch()), 2),
        };
        self.bytes.extend_from_slice(&(delta as i32).to_le_bytes());
        self.bytes.push(working);
        self.bytes.extend_from_slice(&minute.map_or(u16::MAX, |m| m as u16).to_le_bytes());
    }

    /// A date or instant as serialized (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`), written by
    /// [`KeyWriter::time`]; `false` if `s` is neither.
    fn time_literal(&mut self, s: &str) -> bool {
        let b = s.as_bytes();
        if !is_time_literal(b) {
            return false;
        }
        let number = |range: std::ops::Range<usize>| b[range].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let Some(date) = Date::from_ymd(number(0..4) as i32, number(5..7), number(8..10)) else { return false };
        let minute = (b.len() > 10).then(|| number(11..13) * 60 + number(14..16));
        self.time(date, minute);
        true
    }

    fn str(&mut self, s: &str) {
        if !self.time_literal(s) {
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
        // Dates and instants serialize through `collect_str`, as text: `str` recognises them.
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
        if name == "version" || (name == "id" && self.skip_id) { Ok(()) } else { value.serialize(&mut **self) }
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

    fn key_of(sample: &Sample, today: Date) -> Vec<u8> {
        let text = include_str!("../../../../examples/definitions/minimal.ron");
        let def = Arc::new(Definition::from_ron(text, "minimal.ron").unwrap());
        let mut writer = KeyWriter::new(&def);
        writer.today = Some(today);
        sample.serialize(&mut writer).unwrap();
        writer.bytes
    }

    #[test]
    fn the_key_sees_times_relative_to_today_in_working_days_and_ignores_versions() {
        let text = include_str!("../../../../examples/definitions/minimal.ron");
        let def = Definition::from_ron(text, "minimal.ron").unwrap();
        let cal = def.calendar();
        let today = cal.next_working_day(Date::from_ymd(cal.covered_years().0, 1, 1).unwrap()).unwrap();
        let at = today.at_minute(9 * 60 + 30);
        let on = cal.add_working_days(today, 2).unwrap();
        let base = Sample { name: "a".into(), at, on: Some(on), version: 1, level: SlaLevel::Normal };
        // Everything a whole number of working days later (across a weekend or a holiday).
        let shift = |d: Date| cal.add_working_days(d, 7).unwrap();
        let later = Sample {
            at: shift(at.date()).at_minute(at.minute_of_day()),
            on: Some(shift(on)),
            version: 9,
            ..base.clone()
        };
        assert_eq!(key_of(&base, today), key_of(&later, shift(today)));
        // One time moved against the others: a different state.
        assert_ne!(key_of(&base, today), key_of(&Sample { on: Some(shift(on)), ..base.clone() }, today));
        assert_ne!(key_of(&base, today), key_of(&Sample { at: at.plus_minutes(1), ..base.clone() }, today));
        assert_ne!(key_of(&base, today), key_of(&base, shift(today)), "the same times seen from another day");
        assert_ne!(key_of(&base, today), key_of(&Sample { level: SlaLevel::Warning, ..base.clone() }, today));
        assert_ne!(key_of(&base, today), key_of(&Sample { name: "b".into(), ..base.clone() }, today));
        assert_ne!(key_of(&base, today), key_of(&Sample { on: None, ..base.clone() }, today));
    }
}
