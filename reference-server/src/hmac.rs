//! HMAC-SHA256 (RFC 2104) with a 32-byte key: the MAC of every token the server signs.

use sha2::{Digest, Sha256};

/// HMAC-SHA256 of `message` under `secret`.
pub fn hmac_sha256(secret: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut inner_key = [0x36u8; 64];
    let mut outer_key = [0x5cu8; 64];
    for (i, byte) in secret.iter().enumerate() {
        inner_key[i] ^= byte;
        outer_key[i] ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_case_1() {
        // RFC 4231 test case 1 uses a 20-byte key; padded with zeros to 32 bytes the MAC is the same.
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        let mac = hmac_sha256(&key, b"Hi There");
        assert_eq!(mac[..8], [0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53]);
    }
}
