//! Redaction of keys, values and tokens before they reach a log line.
//!
//! Invariant: no log statement of this crate formats a key, a value or a
//! token itself; it formats [`data`] (keys and values) or [`secret`]
//! (tokens). By default both print `len=N hash=XXXXXXXX`: the hash is a
//! SipHash keyed with a random per-process key, so equal keys can be
//! followed through one process's log while short keys cannot be guessed
//! from their hash by trying candidates. With `log.unsafe_show_data = true`
//! keys and values print in clear, truncated; tokens never do.
//!
//! Engine errors can carry a key in their message (`LockTimeout`), so they
//! are logged through [`engine_error`].

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use jubilant_format::wire::Op;

/// Whether keys and values may be logged in clear (`log.unsafe_show_data`).
static SHOW_DATA: AtomicBool = AtomicBool::new(false);

/// Bytes of a key or value shown when data is logged in clear.
const SHOW_BYTES_MAX: usize = 32;

/// Sets `log.unsafe_show_data` (at start and on every reload).
pub fn set_show_data(show: bool) {
    SHOW_DATA.store(show, Ordering::Relaxed);
}

/// Whether data is logged in clear.
#[must_use]
pub fn show_data() -> bool {
    SHOW_DATA.load(Ordering::Relaxed)
}

fn hash32(bytes: &[u8]) -> u32 {
    static KEYED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut h = KEYED.get_or_init(std::collections::hash_map::RandomState::new).build_hasher();
    h.write(bytes);
    let full = h.finish();
    // Fold to 32 bits: enough to tell keys apart in a log.
    (full ^ (full >> 32)) as u32
}

/// A key or value as it may appear in a log line.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    bytes: &'a [u8],
    show: bool,
}

impl<'a> Data<'a> {
    /// `bytes`, shown in clear (truncated) when `show`, else hashed.
    #[must_use]
    pub fn new(bytes: &'a [u8], show: bool) -> Data<'a> {
        Data { bytes, show }
    }
}

/// Redacts a key or value as `log.unsafe_show_data` says.
#[must_use]
pub fn data(bytes: &[u8]) -> Data<'_> {
    Data::new(bytes, show_data())
}

impl fmt::Display for Data<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.show {
            let shown = self.bytes.get(..SHOW_BYTES_MAX).unwrap_or(self.bytes);
            write!(f, "\"{}\"", shown.escape_ascii())?;
            if shown.len() < self.bytes.len() {
                write!(f, "...(len={})", self.bytes.len())?;
            }
            Ok(())
        } else {
            write!(f, "len={} hash={:08x}", self.bytes.len(), hash32(self.bytes))
        }
    }
}

impl fmt::Debug for Data<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A token as it may appear in a log line: always hashed.
#[derive(Clone, Copy)]
pub struct Secret<'a>(&'a [u8]);

/// Redacts a secret (tokens): never shown, whatever the configuration.
#[must_use]
pub fn secret(s: &str) -> Secret<'_> {
    Secret(s.as_bytes())
}

impl fmt::Display for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "len={} hash={:08x}", self.0.len(), hash32(self.0))
    }
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A transaction's operations, each key and value redacted.
pub struct Ops<'a>(pub &'a [Op]);

impl fmt::Display for Ops<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |b: &Option<Vec<u8>>| b.as_deref().map_or_else(|| "-".to_owned(), |b| data(b).to_string());
        for (i, op) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match op {
                Op::Get { key } => write!(f, "GET key=[{}]", data(key))?,
                Op::Set { key, value, ttl_ms } => {
                    write!(f, "SET key=[{}] value=[{}]", data(key), data(value))?;
                    if let Some(ttl) = ttl_ms {
                        write!(f, " ttl_ms={ttl}")?;
                    }
                }
                Op::Del { key } => write!(f, "DEL key=[{}]", data(key))?,
                Op::Assert { key, .. } => write!(f, "ASSERT key=[{}]", data(key))?,
                Op::Scan { start, end, limit, reverse } => {
                    write!(f, "SCAN start=[{}] end=[{}] limit={limit} reverse={reverse}", opt(start), opt(end))?;
                }
            }
        }
        Ok(())
    }
}

/// An engine error for a log line: the key of a lock timeout redacted,
/// every other message as the engine wrote it (paths, sizes, reasons).
#[must_use]
pub fn engine_error(e: &jubilant_engine::Error) -> String {
    match e {
        jubilant_engine::Error::LockTimeout { key } => {
            format!("lock wait timed out on key [{}]; the transaction was aborted", data(key))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_hashed_unless_shown_and_secrets_always_are() {
        let hidden = Data::new(b"user:secret-key", false).to_string();
        assert!(!hidden.contains("secret"), "{hidden}");
        assert!(hidden.starts_with("len=15 hash="), "{hidden}");
        assert_eq!(hidden, Data::new(b"user:secret-key", false).to_string(), "stable within a process");
        assert_ne!(hidden, Data::new(b"user:secret-kez", false).to_string());
        // The default is off.
        assert!(!show_data());
        let token = secret("token-0123456789abcdef").to_string();
        assert!(!token.contains("0123"), "{token}");
        let ops = Ops(&[Op::Set { key: b"k-secret".to_vec(), value: b"v-secret".to_vec(), ttl_ms: None }]).to_string();
        assert!(!ops.contains("secret"), "{ops}");
        let e = jubilant_engine::Error::LockTimeout { key: b"k-secret".to_vec() };
        let as_bytes = format!("{:?}", b"k-secret".to_vec());
        assert!(e.to_string().contains(&as_bytes), "the engine's own message carries the key");
        assert!(!engine_error(&e).contains(&as_bytes) && !engine_error(&e).contains("secret"));
    }

    #[test]
    fn shown_data_is_truncated() {
        let long = [b'x'; 100];
        let shown = Data::new(&long, true).to_string();
        assert!(shown.contains("xxxx") && shown.contains("len=100"), "{shown}");
        assert!(shown.len() < 60, "{shown}");
        assert_eq!(Data::new(b"k\n", true).to_string(), "\"k\\n\"");
    }
}
