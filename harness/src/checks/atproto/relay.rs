//! A relay's verification of a `#commit`: CAR, first root, block CIDs, signature with the DID's key, ops against the MST, inversion to `prevData`, and the `since`/`rev` chain.

use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, VerifyingKey};
use wire::car::{Car, CarLimits, read_car};
use wire::cbor::{DecodeLimits, Value, decode, encode};
use wire::cid::Cid;
use wire::mst::{Undo, invert};
use wire::multibase::{decode_base58btc, encode_base58btc};

/// What a relay remembers of a repo: its latest rev and data root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub rev: String,
    pub data: Cid,
}

/// Why a commit is refused: a finding's kind and message.
pub type Refusal = (&'static str, String);

fn refuse(kind: &'static str, message: impl Into<String>) -> Refusal {
    (kind, message.into())
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a Value, Refusal> {
    body.get(name)
        .ok_or_else(|| refuse("shape", format!("no {name}")))
}

fn link(body: &Value, name: &str) -> Result<Cid, Refusal> {
    field(body, name)?
        .as_link()
        .copied()
        .ok_or_else(|| refuse("shape", format!("{name} is not a link")))
}

fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    field(body, name)?
        .as_str()
        .ok_or_else(|| refuse("shape", format!("{name} is not text")))
}

/// The legacy verification-method type for K-256 (what older PLC directories
/// serve), whose `publicKeyMultibase` is the bare SEC1 point, without the
/// multicodec prefix the `Multikey` type has (atproto cryptography spec,
/// public key encoding; the interop signature fixtures use it too).
pub const LEGACY_K256: &str = "EcdsaSecp256k1VerificationKey2019";

/// A legacy K-256 `publicKeyMultibase` as the `Multikey` form the checks
/// parse; undecodable text is left as it is, for the parser to refuse.
pub fn legacy_k256(multibase: &str) -> String {
    match multibase.strip_prefix('z').map(decode_base58btc) {
        Some(Ok(point)) => {
            let tagged: Vec<u8> = [0xe7, 0x01].into_iter().chain(point).collect();
            format!("z{}", encode_base58btc(&tagged))
        }
        _ => multibase.to_owned(),
    }
}

/// A K-256 key from `publicKeyMultibase` (`z` + base58btc of 0xe7 0x01 + key).
pub fn k256_key(multibase: &str) -> Result<VerifyingKey, Refusal> {
    let bytes = multibase
        .strip_prefix('z')
        .and_then(|b58| decode_base58btc(b58).ok())
        .ok_or_else(|| refuse("key", format!("{multibase} is not base58btc multibase")))?;
    let key = bytes.strip_prefix(&[0xe7, 0x01]).ok_or_else(|| {
        refuse(
            "key",
            "the #atproto key is not K-256 (only K-256 is checked so far)",
        )
    })?;
    VerifyingKey::from_sec1_bytes(key).map_err(|e| refuse("key", e.to_string()))
}

/// The 64-byte low-S signature `sig` over `message`.
pub fn check_signature(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), Refusal> {
    let signature = Signature::from_slice(sig).map_err(|_| {
        refuse(
            "signature",
            format!("a {}-byte signature, not 64", sig.len()),
        )
    })?;
    if signature.normalize_s().is_some() {
        return Err(refuse("signature", "a high-S signature"));
    }
    key.verify(message, &signature).map_err(|_| {
        refuse(
            "signature",
            "the signature does not verify with the key from the DID document",
        )
    })
}

/// The CAR of a `#commit` or `#sync`, checked, with its verified commit's `data` and `rev`.
pub fn signed_commit(body: &Value, did: &str, key: &str) -> Result<(Car, Cid, String), Refusal> {
    let Value::Bytes(bytes) = field(body, "blocks")? else {
        return Err(refuse("shape", "blocks is not bytes"));
    };
    let car = read_car(bytes, &CarLimits::firehose()).map_err(|e| refuse("car", e.to_string()))?;
    let bad = car.verify_blocks();
    if !bad.is_empty() {
        return Err(refuse(
            "cid",
            format!("{} block(s) do not match their CID", bad.len()),
        ));
    }
    let root = *car
        .root()
        .ok_or_else(|| refuse("car", "a CAR without roots"))?;
    if body.get("commit").is_some() && link(body, "commit")? != root {
        return Err(refuse("car", "the CAR's first root is not the commit"));
    }
    let block = car
        .get(&root)
        .ok_or_else(|| refuse("car", "the commit block is missing"))?;
    let commit =
        decode(block, &DecodeLimits::default()).map_err(|e| refuse("commit", e.to_string()))?;
    let Value::Map(mut fields) = commit.clone() else {
        return Err(refuse("commit", "the commit is not a map"));
    };
    let rev = text(&commit, "rev")?.to_owned();
    if text(&commit, "did")? != did
        || field(&commit, "version")?.as_i64() != Some(3)
        || field(&commit, "prev")? != &Value::Null
        || rev != text(body, "rev")?
    {
        return Err(refuse(
            "commit",
            "the commit's did, version, prev or rev do not match the frame",
        ));
    }
    let Some(Value::Bytes(sig)) = fields.remove("sig") else {
        return Err(refuse("commit", "the commit has no sig bytes"));
    };
    check_signature(&k256_key(key)?, &encode(&Value::Map(fields)), &sig)?;
    Ok((car, link(&commit, "data")?, rev))
}

/// Finds `key` in the MST rooted at `root` through blocks of the CAR only.
fn lookup(car: &Car, root: Cid, key: &str) -> Result<Option<Cid>, Refusal> {
    let mut at = Some(root);
    let mut depth = 0;
    while let Some(cid) = at {
        depth += 1;
        if depth > 130 {
            return Err(refuse("mst", "the MST is deeper than any valid tree"));
        }
        let block = car.get(&cid).ok_or_else(|| {
            refuse(
                "proof",
                format!("MST node {cid} on the path to {key} is not in the slice"),
            )
        })?;
        let node =
            decode(block, &DecodeLimits::default()).map_err(|e| refuse("mst", e.to_string()))?;
        let entries = node
            .get("e")
            .and_then(Value::as_array)
            .ok_or_else(|| refuse("mst", "a node without e"))?;
        let mut child = node.get("l").and_then(Value::as_link).copied();
        let mut previous: Vec<u8> = Vec::new();
        let mut next = None;
        for entry in entries {
            let p = entry.get("p").and_then(Value::as_i64).unwrap_or(-1);
            let suffix = entry.get("k").and_then(Value::as_bytes);
            let (Ok(p), Some(suffix)) = (usize::try_from(p), suffix) else {
                return Err(refuse("mst", "an entry without p or k"));
            };
            if p > previous.len() {
                return Err(refuse(
                    "mst",
                    "an entry's prefix is longer than the previous key",
                ));
            }
            let mut full = previous[..p].to_vec();
            full.extend_from_slice(suffix);
            match key.as_bytes().cmp(&full) {
                std::cmp::Ordering::Equal => {
                    return Ok(entry.get("v").and_then(Value::as_link).copied());
                }
                std::cmp::Ordering::Less => {
                    next = Some(child);
                    break;
                }
                std::cmp::Ordering::Greater => {
                    child = entry.get("t").and_then(Value::as_link).copied()
                }
            }
            previous = full;
        }
        at = next.unwrap_or(child);
    }
    Ok(None)
}

/// Verifies one `#commit` against the repo's previous head (if the relay has one); returns the new head.
pub fn verify_commit(body: &Value, key: &str, previous: Option<&Head>) -> Result<Head, Refusal> {
    let did = text(body, "repo")?;
    let (car, data, rev) = signed_commit(body, did, key)?;
    if let Some(previous) = previous {
        if field(body, "since")?.as_str() != Some(previous.rev.as_str()) {
            return Err(refuse(
                "chain",
                format!("since is not the previous rev {}", previous.rev),
            ));
        }
        if rev <= previous.rev {
            return Err(refuse(
                "chain",
                format!("rev {rev} does not grow past {}", previous.rev),
            ));
        }
        if body.get("prevData").and_then(Value::as_link) != Some(&previous.data) {
            return Err(refuse(
                "chain",
                "prevData is not the previous commit's data root",
            ));
        }
    }
    let ops = field(body, "ops")?
        .as_array()
        .ok_or_else(|| refuse("shape", "ops is not a list"))?;
    if ops.len() > 200 {
        return Err(refuse(
            "limits",
            format!("{} ops, more than 200", ops.len()),
        ));
    }
    let mut undo = Vec::new();
    for op in ops {
        let path = text(op, "path")?;
        let cid = field(op, "cid")?.as_link().copied();
        let prev = op.get("prev").and_then(Value::as_link).copied();
        let found = lookup(&car, data, path)?;
        match (text(op, "action")?, cid, prev) {
            ("create", Some(cid), None) => undo.push(Undo::Create { key: path, cid }),
            ("update", Some(cid), Some(prev)) => undo.push(Undo::Update {
                key: path,
                cid,
                prev,
            }),
            ("delete", None, Some(prev)) => undo.push(Undo::Delete { key: path, prev }),
            (action, ..) => {
                return Err(refuse(
                    "ops",
                    format!("op {action} {path} has the wrong cid/prev"),
                ));
            }
        }
        if found != cid {
            return Err(refuse(
                "ops",
                format!("{path}: the MST holds {found:?}, the op says {cid:?}"),
            ));
        }
        if let Some(cid) = cid
            && car.get(&cid).is_none()
        {
            return Err(refuse(
                "car",
                format!("{path}: the record block is not in the slice"),
            ));
        }
    }
    if let Some(prev_data) = body.get("prevData").and_then(Value::as_link) {
        let inverted = invert(data, &|cid| car.get(cid), &undo)
            .map_err(|e| refuse("proof", format!("inverting the ops: {e}")))?;
        if inverted != *prev_data {
            return Err(refuse(
                "proof",
                format!("inverting the ops gives {inverted}, not prevData {prev_data}"),
            ));
        }
    }
    Ok(Head { rev, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_k256_key_becomes_the_multikey_of_the_same_point() {
        // The K-256 key of the interop signature fixtures, in both encodings.
        let legacy = "z25z9DTpsiYYJKGsWmSPJK2NFN8PcJtZig12K59UgW7q5t";
        let multikey = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
        assert_eq!(legacy_k256(legacy), multikey);
        assert!(k256_key(&legacy_k256(legacy)).is_ok());
        assert_eq!(legacy_k256("not base58!"), "not base58!");
    }
}
