//! Block and leaf hashes, and their 64-hex-digit spelling in export lines.

/// A BLAKE3 hash: of a block, a record (its leaf) or a set of leaves (a root).
pub type Hash = [u8; 32];

/// The hash as 64 lower-case hex digits.
pub(crate) fn hex(h: &Hash) -> String {
    blake3::Hash::from(*h).to_hex().to_string()
}

/// 64 hex digits (either case) back into a hash.
pub(crate) fn unhex(s: &str) -> Option<Hash> {
    blake3::Hash::from_hex(s).ok().map(|h| *h.as_bytes())
}
