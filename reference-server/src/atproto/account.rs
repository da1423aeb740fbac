//! Accounts and identities: `did:plc`-shaped DIDs, their signing and label keys, handles, passwords, and the DID documents the built-in directory serves.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use wire::multibase::encode_base32;

use super::keys::Keypair;

/// A repository's owner.
#[derive(Debug, Clone)]
pub struct Account {
    pub identity: Identity,
    pub email: Option<String>,
    salt: [u8; 32],
    password_hash: [u8; 32],
    pub active: bool,
    /// Why the account is inactive: `deactivated`, `suspended`, `takendown`.
    pub status: Option<String>,
}

/// A DID with its keys, as the directory publishes it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub did: String,
    pub handle: String,
    /// Signs commits (`#atproto`).
    pub signing: Keypair,
    /// Signs labels (`#atproto_label`).
    pub label: Keypair,
}

/// How an account is kept in the store.
#[derive(Serialize, Deserialize)]
struct Stored {
    did: String,
    handle: String,
    email: Option<String>,
    signing: String,
    label: String,
    salt: String,
    password_hash: String,
    active: bool,
    status: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn hash_password(salt: &[u8; 32], password: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(salt)
        .chain_update(password.as_bytes())
        .finalize()
        .into()
}

impl Identity {
    /// A new identity with fresh keys and a DID derived from them, shaped like
    /// a PLC DID: `did:plc:` and 24 base32 characters of a SHA-256.
    pub fn generate(handle: &str) -> Self {
        let signing = Keypair::generate();
        let label = Keypair::generate();
        let digest = Sha256::new()
            .chain_update(signing.did_key())
            .chain_update(label.did_key())
            .chain_update(handle)
            .chain_update(crate::random::bytes32())
            .finalize();
        let did = format!("did:plc:{}", &encode_base32(&digest)[..24]);
        Self {
            did,
            handle: handle.to_owned(),
            signing,
            label,
        }
    }

    /// The DID document, with `endpoint` as the PDS (and labeler) service.
    pub fn document(&self, endpoint: &str, labeler: bool) -> Json {
        let method = |fragment: &str, key: &Keypair| {
            json!({
                "id": format!("{}#{fragment}", self.did),
                "type": "Multikey",
                "controller": self.did,
                "publicKeyMultibase": key.multibase(),
            })
        };
        let mut services = vec![json!({
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": endpoint,
        })];
        if labeler {
            services.push(json!({
                "id": "#atproto_labeler",
                "type": "AtprotoLabeler",
                "serviceEndpoint": endpoint,
            }));
        }
        json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1"
            ],
            "id": self.did,
            "alsoKnownAs": [format!("at://{}", self.handle)],
            "verificationMethod": [method("atproto", &self.signing), method("atproto_label", &self.label)],
            "service": services,
        })
    }

    /// The identity as stored (keys as hex).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "did": self.did,
            "handle": self.handle,
            "signing": hex(&self.signing.secret_bytes()),
            "label": hex(&self.label.secret_bytes()),
        }))
        .unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let json: Json = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            did: json["did"].as_str()?.to_owned(),
            handle: json["handle"].as_str()?.to_owned(),
            signing: Keypair::from_bytes(&unhex32(json["signing"].as_str()?)?)?,
            label: Keypair::from_bytes(&unhex32(json["label"].as_str()?)?)?,
        })
    }
}

impl Account {
    pub fn new(identity: Identity, email: Option<String>, password: &str) -> Self {
        let salt = crate::random::bytes32();
        Self {
            identity,
            email,
            salt,
            password_hash: hash_password(&salt, password),
            active: true,
            status: None,
        }
    }

    pub fn did(&self) -> &str {
        &self.identity.did
    }

    pub fn password_matches(&self, password: &str) -> bool {
        hash_password(&self.salt, password) == self.password_hash
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let stored = Stored {
            did: self.identity.did.clone(),
            handle: self.identity.handle.clone(),
            email: self.email.clone(),
            signing: hex(&self.identity.signing.secret_bytes()),
            label: hex(&self.identity.label.secret_bytes()),
            salt: hex(&self.salt),
            password_hash: hex(&self.password_hash),
            active: self.active,
            status: self.status.clone(),
        };
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            identity: Identity {
                did: stored.did,
                handle: stored.handle,
                signing: Keypair::from_bytes(&unhex32(&stored.signing)?)?,
                label: Keypair::from_bytes(&unhex32(&stored.label)?)?,
            },
            email: stored.email,
            salt: unhex32(&stored.salt)?,
            password_hash: unhex32(&stored.password_hash)?,
            active: stored.active,
            status: stored.status,
        })
    }
}

/// Whether `handle` has the atproto handle syntax (lower-cased by the caller):
/// at most 253 characters, two or more dot-separated labels of 1–63 letters,
/// digits and inner hyphens, the last one not starting with a digit.
pub fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.as_bytes()[0].is_ascii_alphabetic())
}

/// Whether `nsid` has the NSID syntax: three or more segments, a domain
/// authority of letters, digits and hyphens, and a name of letters and digits.
pub fn is_nsid(nsid: &str) -> bool {
    let segments: Vec<&str> = nsid.split('.').collect();
    let Some((name, authority)) = segments.split_last() else {
        return false;
    };
    nsid.len() <= 317
        && segments.len() >= 3
        && authority.iter().all(|s| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        })
        && !authority[0].as_bytes()[0].is_ascii_digit()
        && !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `rkey` is a valid record key: 1–512 of `A-Za-z0-9.-_:~`, not `.` or `..`.
pub fn is_record_key(rkey: &str) -> bool {
    !rkey.is_empty()
        && rkey.len() <= 512
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_rules() {
        assert!(is_handle("alice.test") && is_handle("a-b.example.com"));
        assert!(!is_handle("alice") && !is_handle("-a.test") && !is_handle("a.1com"));
        assert!(is_nsid("app.bsky.feed.post") && is_nsid("com.example.fooBar"));
        assert!(!is_nsid("app.bsky") && !is_nsid("com.example.foo-bar"));
        assert!(is_record_key("3jzfcijpj2z2a") && is_record_key("self"));
        assert!(!is_record_key("..") && !is_record_key("a/b") && !is_record_key(""));
    }

    #[test]
    fn identities_and_accounts_survive_storage() {
        let identity = Identity::generate("alice.test");
        assert!(identity.did.starts_with("did:plc:") && identity.did.len() == 32);
        let account = Account::new(identity, Some("a@example.com".into()), "hunter2");
        let back = Account::from_bytes(&account.to_bytes()).expect("round trip");
        assert_eq!(back.did(), account.did());
        assert!(back.password_matches("hunter2") && !back.password_matches("hunter3"));
        assert_eq!(
            back.identity.signing.did_key(),
            account.identity.signing.did_key()
        );
        let doc = back.identity.document("http://127.0.0.1:1", false);
        assert_eq!(
            doc["verificationMethod"][1]["id"],
            format!("{}#atproto_label", back.did())
        );
    }
}
