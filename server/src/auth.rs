//! API tokens, roles and key-prefix ACLs.

use crate::config::{Role, TokenConfig};

/// Who a connection is, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The role.
    pub role: Role,
    /// Key prefixes it may touch; empty means every key.
    pub prefixes: Vec<Vec<u8>>,
}

impl Principal {
    /// Everything allowed (authentication off).
    #[must_use]
    pub fn unrestricted() -> Principal {
        Principal { role: Role::Admin, prefixes: Vec::new() }
    }

    /// Whether the principal may touch `key`.
    #[must_use]
    pub fn may_touch(&self, key: &[u8]) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key.starts_with(p))
    }

    /// Whether a scan of `[start, end)` stays inside one allowed prefix.
    #[must_use]
    pub fn may_scan(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> bool {
        if self.prefixes.is_empty() {
            return true;
        }
        let (Some(start), Some(end)) = (start, end) else { return false };
        self.prefixes.iter().any(|p| start.starts_with(p) && end <= prefix_end(p).as_slice() && end >= start)
    }
}

/// The smallest key greater than every key with prefix `p`.
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xFF: no upper bound; use a key above any real one.
    vec![0xFF; p.len() + 1]
}

/// Compares two secrets in time independent of where they differ.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<TokenConfig>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.tokens.len())
    }
}

impl Tokens {
    /// From the configuration.
    #[must_use]
    pub fn new(tokens: Vec<TokenConfig>) -> Tokens {
        Tokens { tokens }
    }

    /// Whether authentication is required.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The principal of `token`, comparing against every configured token
    /// in constant time (no early exit on a match either).
    #[must_use]
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq(t.token.as_bytes(), token.as_bytes()) && found.is_none() {
                found = Some(Principal {
                    role: t.role,
                    prefixes: t.prefixes.iter().map(|p| p.as_bytes().to_vec()).collect(),
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"secret-token-1234", b"secret-token-1234"));
        assert!(!constant_time_eq(b"secret-token-1234", b"secret-token-1235"));
        assert!(!constant_time_eq(b"secret", b"secret-longer"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn prefixes_limit_keys_and_scans() {
        let p = Principal { role: Role::Write, prefixes: vec![b"user:".to_vec()] };
        assert!(p.may_touch(b"user:1"));
        assert!(!p.may_touch(b"admin:1"));
        assert!(p.may_scan(Some(b"user:"), Some(b"user;")));
        assert!(p.may_scan(Some(b"user:a"), Some(b"user:z")));
        assert!(!p.may_scan(Some(b"user:"), None));
        assert!(!p.may_scan(Some(b"a"), Some(b"z")));
        assert!(Principal::unrestricted().may_scan(None, None));
    }
}
