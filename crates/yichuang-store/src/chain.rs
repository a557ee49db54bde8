//! The hash chain (哈希链) that makes the log tamper-evident.
//!
//! Every stored event carries a SHA-256 **hash** of its canonical bytes, its position and the
//! previous event's hash; every idempotency record carries a hash of its fields and the
//! previous record's hash (the **key chain**), and every event's hash also covers the head of
//! the key chain when the event was stored, so a record is bound to the event chain from the
//! next event on. Editing a stored byte breaks the chain at that position; deleting the last
//! event is caught by the head recorded with every append; rewriting the whole chain after an
//! edit changes the head hash, which a signed checkpoint ([`crate::checkpoint`]) kept elsewhere
//! exposes. The exact byte layout is in `docs/store.md` ("The hash chain") so that an auditor can
//! recompute it with other tools (PostgreSQL's `sha256()`, `sha256sum`).
//!
//! SHA-256 rather than BLAKE3: it is the hash auditors and their tools already have (coreutils,
//! OpenSSL, PostgreSQL's built-in `sha256()`), and at about 400 bytes per event it costs a few
//! microseconds per group commit, far below the fsync.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::IdempotencyRecord;

/// Domain tag of an event link: no event hash can be mistaken for a key hash.
const EVENT_TAG: &[u8] = b"yichuang-event-v1";
/// Domain tag of an idempotency-record link.
const KEY_TAG: &[u8] = b"yichuang-key-v1";

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The hash before the first link (32 zero bytes).
    pub const ZERO: Digest = Digest([0; 32]);

    /// The digest from a stored byte string (exactly 32 bytes).
    pub fn from_slice(bytes: &[u8]) -> Option<Digest> {
        <[u8; 32]>::try_from(bytes).ok().map(Digest)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Why a digest's text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hex digits (SHA-256), not `{0}`")]
pub struct DigestParseError(String);

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Digest, DigestParseError> {
        let bad = || DigestParseError(s.chars().take(80).collect());
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Digest(out))
    }
}

/// The head of both chains: the last event (position and hash) and the key chain as that
/// event saw it, or as it is now when records were added since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// Position of the last event (0 for an empty log).
    pub position: u64,
    /// Hash of the last event ([`Digest::ZERO`] for an empty log).
    pub hash: Digest,
    /// Idempotency records ever chained (forgotten ones included).
    pub keys: u64,
    /// Hash of the last idempotency record ([`Digest::ZERO`] when there was none).
    pub key_hash: Digest,
}

/// The link of one event, as stored beside it: the key chain's head it covers and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLink {
    /// Idempotency records chained when the event was stored (its own command's included).
    pub keys: u64,
    /// Hash of the last of them.
    pub key_hash: Digest,
    /// The event's hash.
    pub hash: Digest,
}

/// The link of one idempotency record, as stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLink {
    /// The record's number in the key chain (1, 2, 3, … for ever; forgotten numbers are not
    /// reused).
    pub number: u64,
    /// Its hash.
    pub hash: Digest,
}

/// `SHA-256("yichuang-event-v1" ‖ position ‖ previous ‖ keys ‖ key_hash ‖ body)`, integers as
/// 8 bytes big-endian, hashes as 32 raw bytes, the body as its UTF-8 bytes.
pub fn event_hash(position: u64, previous: &Digest, keys: u64, key_hash: &Digest, body: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(EVENT_TAG);
    h.update(position.to_be_bytes());
    h.update(previous.0);
    h.update(keys.to_be_bytes());
    h.update(key_hash.0);
    h.update(body.as_bytes());
    Digest(h.finalize().into())
}

/// `SHA-256("yichuang-key-v1" ‖ number ‖ previous ‖ position ‖ fingerprint ‖ status ‖
/// len(scope) ‖ scope ‖ len(key) ‖ key ‖ body)`: integers 8 bytes big-endian except the status
/// (2 bytes) and the lengths (4 bytes), texts as UTF-8.
pub fn key_hash(number: u64, previous: &Digest, record: &IdempotencyRecord) -> Digest {
    let mut h = Sha256::new();
    h.update(KEY_TAG);
    h.update(number.to_be_bytes());
    h.update(previous.0);
    h.update(record.position.to_be_bytes());
    h.update(record.fingerprint.to_be_bytes());
    h.update(record.status.to_be_bytes());
    for text in [&record.scope, &record.key] {
        // Keys and scopes are bounded by the service far below 4 GiB.
        h.update(u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.update(record.body.as_bytes());
    Digest(h.finalize().into())
}

impl ChainHead {
    /// Chains an idempotency record: the next number and its hash.
    pub fn link_key(&mut self, record: &IdempotencyRecord) -> KeyLink {
        let number = self.keys + 1;
        let hash = key_hash(number, &self.key_hash, record);
        self.keys = number;
        self.key_hash = hash;
        KeyLink { number, hash }
    }

    /// Chains the event at `position` (the next one) with its body.
    pub fn link_event(&mut self, position: u64, body: &str) -> EventLink {
        debug_assert_eq!(position, self.position + 1, "events are chained in position order");
        let hash = event_hash(position, &self.hash, self.keys, &self.key_hash, body);
        self.position = position;
        self.hash = hash;
        EventLink { keys: self.keys, key_hash: self.key_hash, hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_print_and_parse_as_hex() {
        let d = event_hash(1, &Digest::ZERO, 0, &Digest::ZERO, "{}");
        let text = d.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Digest>().unwrap(), d);
        assert!("00".parse::<Digest>().is_err());
        assert!("zz".repeat(32).parse::<Digest>().is_err());
        assert!("é".repeat(32).parse::<Digest>().is_err(), "multi-byte text is refused, not sliced");
    }

    /// The layout is fixed: an independent SHA-256 of the documented bytes gives the same hash
    /// (the bytes are spelled out here as docs/store.md spells them).
    #[test]
    fn the_event_hash_is_sha256_of_the_documented_bytes() {
        let mut bytes = b"yichuang-event-v1".to_vec();
        bytes.extend(7u64.to_be_bytes());
        bytes.extend([0xab; 32]);
        bytes.extend(3u64.to_be_bytes());
        bytes.extend([0xcd; 32]);
        bytes.extend(b"{\"v\":1}");
        let expected = Digest(Sha256::digest(&bytes).into());
        assert_eq!(event_hash(7, &Digest([0xab; 32]), 3, &Digest([0xcd; 32]), "{\"v\":1}"), expected);
        // Every input moves the hash.
        let base = event_hash(7, &Digest([0xab; 32]), 3, &Digest([0xcd; 32]), "{\"v\":1}");
        assert_ne!(base, event_hash(8, &Digest([0xab; 32]), 3, &Digest([0xcd; 32]), "{\"v\":1}"));
        assert_ne!(base, event_hash(7, &Digest([0xac; 32]), 3, &Digest([0xcd; 32]), "{\"v\":1}"));
        assert_ne!(base, event_hash(7, &Digest([0xab; 32]), 4, &Digest([0xcd; 32]), "{\"v\":1}"));
        assert_ne!(base, event_hash(7, &Digest([0xab; 32]), 3, &Digest([0xce; 32]), "{\"v\":1}"));
        assert_ne!(base, event_hash(7, &Digest([0xab; 32]), 3, &Digest([0xcd; 32]), "{\"v\":2}"));
    }

    #[test]
    fn scope_and_key_boundaries_are_part_of_the_key_hash() {
        let record = |scope: &str, key: &str| IdempotencyRecord {
            scope: scope.into(),
            key: key.into(),
            fingerprint: 1,
            status: 200,
            body: "{}".into(),
            position: 1,
        };
        assert_ne!(key_hash(1, &Digest::ZERO, &record("ab", "c")), key_hash(1, &Digest::ZERO, &record("a", "bc")));
        let mut head = ChainHead::default();
        let first = head.link_key(&record("a", "k"));
        let second = head.link_key(&record("a", "k"));
        assert_eq!((first.number, second.number), (1, 2));
        assert_ne!(first.hash, second.hash, "the number and the previous hash enter the hash");
        let link = head.link_event(1, "{}");
        assert_eq!((link.keys, link.key_hash), (2, second.hash));
    }
}
