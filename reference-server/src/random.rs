//! Random bytes for identities and secrets (node ids, token secrets, signing keys), from the standard library alone.
//!
//! Each call hashes a counter and the time with a fresh [`RandomState`], whose
//! keys the standard library seeds from the operating system's randomness.
//! That is unpredictable enough for a reference server's dev identities; it
//! is not a vetted CSPRNG, so keys made here are for testing, not for value.

use std::hash::{BuildHasher, RandomState};

/// 32 random bytes.
pub fn bytes32() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = RandomState::new().hash_one((i, std::time::SystemTime::now()));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}
