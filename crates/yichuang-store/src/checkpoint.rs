//! Signed checkpoints (签名检查点): the head of the hash chain, signed with the service's ed25519
//! key and appended to a file that the operator ships elsewhere.
//!
//! The chain makes every edit visible *unless* the editor rewrites every hash after it, or cuts
//! the log's tail together with the head recorded in the database. A checkpoint kept outside
//! the database's reach closes both: a database whose hash at a checkpoint's position differs,
//! or that ends before it, was rewritten or truncated. `yichuang audit --checkpoint FILE
//! --public-key PEM` checks a database against every line of the file.
//!
//! File format (one JSON object per line, appended, fsync'd):
//!
//! ```text
//! {"v":1,"position":1042,"hash":"<64 hex>","unix_time":1767225600,"written_at":"2026-01-01T00:00:00Z","signature":"<128 hex>"}
//! ```
//!
//! The signature is ed25519 over the bytes `"yichuang-checkpoint-v1" ‖ position ‖ hash ‖
//! unix_time` (integers 8 bytes big-endian, the hash as 32 raw bytes); `written_at` is
//! `unix_time` in RFC 3339 for people and is not signed separately. Keys are PKCS#8 PEM files as
//! `openssl genpkey -algorithm ed25519` writes them; the public key is
//! `openssl pkey -in KEY -pubout`.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signature, Signer, Verifier};
pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{ChainHead, Digest, EventLog, StoreError};

const TAG: &[u8] = b"yichuang-checkpoint-v1";

/// One signed checkpoint: the chain's head at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The head's position.
    pub position: u64,
    /// The event's hash at that position.
    pub hash: Digest,
    /// When it was written (seconds since 1970-01-01 UTC, the machine's clock).
    pub unix_time: i64,
    /// ed25519 signature of [`Checkpoint::message`].
    pub signature: [u8; 64],
}

/// Why a checkpoint file or key is refused, or a database disagrees with a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The key file cannot be read.
    #[error("cannot read the key file {}: {error}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The key file is not an ed25519 key in PEM.
    #[error(
        "{} is not an ed25519 {what} key in PEM (PKCS#8); make one with `openssl genpkey -algorithm ed25519 -out checkpoint-key.pem` and its public key with `openssl pkey -in checkpoint-key.pem -pubout`",
        path.display()
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// "private" or "public".
        what: &'static str,
    },
    /// The checkpoint file cannot be read or written.
    #[error("checkpoint file {}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A line of the checkpoint file does not parse.
    #[error("{}:{line}: not a checkpoint ({why}); each line is one JSON object as the service writes it", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        why: String,
    },
    /// The file holds no checkpoint.
    #[error("{} holds no checkpoint", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A signature does not verify with the public key: the line was forged or edited, or the
    /// key is not the service's.
    #[error("{}:{line}: the signature does not verify with the public key given (the line was changed, or it was signed with another key)", path.display())]
    Signature {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// The database ends before a checkpoint's position.
    #[error(
        "the database ends at position {head}, but the checkpoint written at {written_at} saw position {position}: the events after position {head} were removed"
    )]
    Truncated {
        /// The database's last position.
        head: u64,
        /// The checkpoint's position.
        position: u64,
        /// When the checkpoint was written.
        written_at: String,
    },
    /// The database's hash at a checkpoint's position differs.
    #[error(
        "the event at position {position} does not have the hash the checkpoint written at {written_at} saw ({expected}, the database has {found}): the log was rewritten at or before position {position}"
    )]
    Differs {
        /// The position.
        position: u64,
        /// The checkpoint's hash.
        expected: Digest,
        /// The database's.
        found: Digest,
        /// When the checkpoint was written.
        written_at: String,
    },
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Checkpoint {
    /// The signed bytes.
    pub fn message(position: u64, hash: &Digest, unix_time: i64) -> Vec<u8> {
        let mut m = Vec::with_capacity(TAG.len() + 48);
        m.extend_from_slice(TAG);
        m.extend_from_slice(&position.to_be_bytes());
        m.extend_from_slice(&hash.0);
        m.extend_from_slice(&unix_time.to_be_bytes());
        m
    }

    /// Signs a head.
    pub fn sign(key: &SigningKey, head: &ChainHead, unix_time: i64) -> Checkpoint {
        let signature = key.sign(&Checkpoint::message(head.position, &head.hash, unix_time)).to_bytes();
        Checkpoint { position: head.position, hash: head.hash, unix_time, signature }
    }

    /// Whether the signature verifies with `key`.
    pub fn verifies(&self, key: &VerifyingKey) -> bool {
        let message = Checkpoint::message(self.position, &self.hash, self.unix_time);
        key.verify(&message, &Signature::from_bytes(&self.signature)).is_ok()
    }

    /// The line the file holds (without the newline).
    pub fn to_line(&self) -> String {
        let signature: String = self.signature.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{{\"v\":1,\"position\":{},\"hash\":\"{}\",\"unix_time\":{},\"written_at\":\"{}\",\"signature\":\"{signature}\"}}",
            self.position,
            self.hash,
            self.unix_time,
            rfc3339(self.unix_time)
        )
    }

    /// Parses a line of the file.
    pub fn from_line(line: &str) -> Result<Checkpoint, String> {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if v.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
            return Err("`v` must be 1".into());
        }
        let position = v.get("position").and_then(serde_json::Value::as_u64).ok_or("`position` is missing")?;
        let hash = v.get("hash").and_then(serde_json::Value::as_str).ok_or("`hash` is missing")?;
        let hash: Digest = hash.parse().map_err(|e: crate::chain::DigestParseError| e.to_string())?;
        let unix_time = v.get("unix_time").and_then(serde_json::Value::as_i64).ok_or("`unix_time` is missing")?;
        let signature = v.get("signature").and_then(serde_json::Value::as_str).ok_or("`signature` is missing")?;
        let bad_signature = || "`signature` must be 128 hex digits".to_owned();
        if signature.len() != 128 || !signature.is_ascii() {
            return Err(bad_signature());
        }
        let mut bytes = [0u8; 64];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&signature[2 * i..2 * i + 2], 16).map_err(|_| bad_signature())?;
        }
        Ok(Checkpoint { position, hash, unix_time, signature: bytes })
    }

    /// Checks a log against this checkpoint: the log reaches its position with the same hash
    /// there.
    pub fn check(&self, log: &dyn EventLog) -> Result<(), CheckpointError> {
        let written_at = rfc3339(self.unix_time);
        if self.position == 0 {
            return Ok(());
        }
        match log.hash_at(self.position)? {
            None => Err(CheckpointError::Truncated { head: log.head()?, position: self.position, written_at }),
            Some(found) if found != self.hash => {
                Err(CheckpointError::Differs { position: self.position, expected: self.hash, found, written_at })
            }
            Some(_) => Ok(()),
        }
    }
}

/// Reads the private key (PKCS#8 PEM) that signs checkpoints.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, CheckpointError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| CheckpointError::KeyFile { path: path.to_owned(), error })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|_| CheckpointError::Key { path: path.to_owned(), what: "private" })
}

/// Reads a public key (SubjectPublicKeyInfo PEM, `-----BEGIN PUBLIC KEY-----`).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, CheckpointError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| CheckpointError::KeyFile { path: path.to_owned(), error })?;
    VerifyingKey::from_public_key_pem(&text).map_err(|_| CheckpointError::Key { path: path.to_owned(), what: "public" })
}

/// The public key of a signing key, as PEM (what the operator publishes).
pub fn public_key_pem(key: &SigningKey) -> String {
    key.verifying_key().to_public_key_pem(LineEnding::LF).expect("an ed25519 public key encodes as PEM")
}

/// Reads every checkpoint of a file and checks each signature with `key`.
pub fn read_checkpoints(path: &Path, key: &VerifyingKey) -> Result<Vec<Checkpoint>, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(|error| CheckpointError::File { path: path.to_owned(), error })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let checkpoint = Checkpoint::from_line(line).map_err(|why| CheckpointError::Line {
            path: path.to_owned(),
            line: i + 1,
            why,
        })?;
        if !checkpoint.verifies(key) {
            return Err(CheckpointError::Signature { path: path.to_owned(), line: i + 1 });
        }
        out.push(checkpoint);
    }
    if out.is_empty() {
        return Err(CheckpointError::Empty { path: path.to_owned() });
    }
    Ok(out)
}

/// Appends signed checkpoints to a file, each line fsync'd before the next.
#[derive(Debug)]
pub struct CheckpointWriter {
    path: PathBuf,
    file: std::fs::File,
    key: SigningKey,
    last: Option<ChainHead>,
}

impl CheckpointWriter {
    /// Opens (or creates) the file for appending.
    pub fn open(path: &Path, key: SigningKey) -> Result<CheckpointWriter, CheckpointError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| CheckpointError::File { path: path.to_owned(), error })?;
        Ok(CheckpointWriter { path: path.to_owned(), file, key, last: None })
    }

    /// Writes a checkpoint of `head` unless it is the head written last; returns whether it wrote.
    pub fn write(&mut self, head: &ChainHead, unix_time: i64) -> Result<bool, CheckpointError> {
        if self.last.is_some_and(|l| l.position == head.position && l.hash == head.hash) {
            return Ok(false);
        }
        let line = Checkpoint::sign(&self.key, head, unix_time).to_line();
        let file_error = |error| CheckpointError::File { path: self.path.clone(), error };
        writeln!(self.file, "{line}").map_err(file_error)?;
        self.file.sync_data().map_err(file_error)?;
        self.last = Some(*head);
        Ok(true)
    }
}

/// Seconds since 1970 in RFC 3339, UTC (`2026-01-01T00:00:00Z`).
pub fn rfc3339(unix_time: i64) -> String {
    let days = unix_time.div_euclid(86_400);
    let secs = unix_time.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn a_checkpoint_round_trips_and_its_signature_binds_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = ChainHead { position: 42, hash: Digest([9; 32]), ..ChainHead::default() };
        let c = Checkpoint::sign(&key, &head, 1_767_225_600);
        let line = c.to_line();
        let back = Checkpoint::from_line(&line).unwrap();
        assert_eq!(back, c);
        assert!(back.verifies(&key.verifying_key()));
        assert!(!back.verifies(&SigningKey::from_bytes(&[8; 32]).verifying_key()), "another key");
        for edited in [
            line.replace("\"position\":42", "\"position\":41"),
            line.replace(&Digest([9; 32]).to_string(), &Digest([10; 32]).to_string()),
            line.replace("1767225600", "1767225601"),
        ] {
            let edited = Checkpoint::from_line(&edited).unwrap();
            assert!(!edited.verifies(&key.verifying_key()), "{edited:?}");
        }
        assert!(Checkpoint::from_line("{\"v\":2}").unwrap_err().contains("`v` must be 1"));
        assert!(Checkpoint::from_line(&line.replace("\"signature\":\"", "\"signature\":\"zz")).is_err());
    }
}
