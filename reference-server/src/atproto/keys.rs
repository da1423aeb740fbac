//! secp256k1 keys as atproto uses them: 64-byte low-S signatures over SHA-256, and `did:key` / multibase public keys.
//!
//! Signing always yields the low-S form; verification refuses high-S and
//! DER-encoded signatures, as the atproto cryptography spec requires of
//! every implementation (the interop vectors check both).

use k256::ecdsa::signature::{Signer, Verifier};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use wire::multibase::{decode_base58btc, encode_base58btc};

/// The multicodec prefix of a compressed secp256k1 public key (0xe7, varint).
const SECP256K1_PUB: [u8; 2] = [0xe7, 0x01];

/// A private signing key.
#[derive(Clone)]
pub struct Keypair {
    key: SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("did_key", &self.did_key())
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A key from 32 secret bytes, or `None` when they are not a valid scalar (zero, or above the order).
    pub fn from_bytes(secret: &[u8; 32]) -> Option<Self> {
        SigningKey::from_slice(secret).ok().map(|key| Self { key })
    }

    /// A fresh key, drawn until the bytes are a valid scalar.
    pub fn generate() -> Self {
        loop {
            if let Some(key) = Self::from_bytes(&crate::random::bytes32()) {
                return key;
            }
        }
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes().into()
    }

    /// The 64-byte `r ‖ s` signature of SHA-256(`message`), with low S.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        let signature = signature.normalize_s().unwrap_or(signature);
        signature.to_bytes().into()
    }

    /// The compressed public key.
    pub fn public_key(&self) -> [u8; 33] {
        let point = self.key.verifying_key().to_encoded_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// `z` + base58btc(multicodec ‖ compressed key): the DID document's `publicKeyMultibase`.
    pub fn multibase(&self) -> String {
        multibase(&self.public_key())
    }

    pub fn did_key(&self) -> String {
        format!("did:key:{}", self.multibase())
    }
}

pub fn multibase(compressed: &[u8; 33]) -> String {
    let mut bytes = SECP256K1_PUB.to_vec();
    bytes.extend_from_slice(compressed);
    format!("z{}", encode_base58btc(&bytes))
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a K-256 did:key or multibase key: {0}")]
    Key(String),
    #[error("a signature is 64 bytes (r ‖ s), not {0}")]
    Length(usize),
    #[error("the signature has a high S; atproto accepts only low-S signatures")]
    HighS,
    #[error("the signature does not verify")]
    Invalid,
}

/// Parses `did:key:z…` or `z…` holding a compressed secp256k1 key.
pub fn parse_public(text: &str) -> Result<VerifyingKey, VerifyError> {
    let multibase = text.strip_prefix("did:key:").unwrap_or(text);
    let encoded = multibase
        .strip_prefix('z')
        .ok_or_else(|| VerifyError::Key("expected base58btc (z…)".to_owned()))?;
    let bytes = decode_base58btc(encoded).map_err(|e| VerifyError::Key(e.to_string()))?;
    let key = bytes
        .strip_prefix(&SECP256K1_PUB)
        .ok_or_else(|| VerifyError::Key("not a secp256k1-pub multicodec key".to_owned()))?;
    VerifyingKey::from_sec1_bytes(key).map_err(|e| VerifyError::Key(e.to_string()))
}

/// Verifies a 64-byte low-S signature of SHA-256(`message`).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    if signature.len() != 64 {
        return Err(VerifyError::Length(signature.len()));
    }
    let signature = Signature::from_slice(signature).map_err(|_| VerifyError::Invalid)?;
    if signature.normalize_s().is_some() {
        return Err(VerifyError::HighS);
    }
    key.verify(message, &signature)
        .map_err(|_| VerifyError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_low_s_and_verify_with_the_did_key() {
        let key = Keypair::generate();
        let did = key.did_key();
        assert!(did.starts_with("did:key:zQ3s"), "{did}");
        let public = parse_public(&did).unwrap();
        for message in [&b""[..], b"hello", &[0u8; 1000]] {
            let signature = key.sign(message);
            assert_eq!(verify(&public, message, &signature), Ok(()));
            assert_eq!(
                verify(&public, b"other", &signature),
                Err(VerifyError::Invalid)
            );
        }
        let restored = Keypair::from_bytes(&key.secret_bytes()).unwrap();
        assert_eq!(restored.did_key(), did);
    }
}
