//! Checksums and identity hashes.
//!
//! Integrity of every structure is protected by CRC32C (Castagnoli, the
//! polynomial with hardware support on x86-64 and AArch64). Identity hashes
//! (the schema hash, the manifest hash a superblock refers to) use 64-bit
//! FNV-1a: they detect mix-ups, not attacks, and FNV-1a can be computed in a
//! `const fn`, so the schema hash is a compile-time constant.

/// Name of the checksum algorithm recorded in the manifest.
pub const CHECKSUM_ALGORITHM: &str = "crc32c";

/// CRC32C of `bytes`.
#[must_use]
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// CRC32C of several byte ranges, as if they were concatenated.
#[must_use]
pub fn crc32c_parts(parts: &[&[u8]]) -> u32 {
    parts.iter().fold(0, |crc, part| crc32c::crc32c_append(crc, part))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`, continuing from `state` (start with
/// [`fnv1a64_start`]).
#[must_use]
pub const fn fnv1a64_continue(mut state: u64, mut bytes: &[u8]) -> u64 {
    while let Some((&byte, rest)) = bytes.split_first() {
        state ^= byte as u64;
        state = state.wrapping_mul(FNV_PRIME);
        bytes = rest;
    }
    state
}

/// The FNV-1a starting state.
#[must_use]
pub const fn fnv1a64_start() -> u64 {
    FNV_OFFSET
}

/// 64-bit FNV-1a of `bytes`.
#[must_use]
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_continue(FNV_OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_answer() {
        // RFC 3720 (iSCSI), B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_parts(&[b"1234", b"56789"]), 0xE306_9283);
    }

    #[test]
    fn fnv1a64_known_answer() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
