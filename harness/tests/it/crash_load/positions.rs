//! The positions of events per API: what an acknowledgement names, and what a frame shows.

use harness::load::adapter::{Frame, Step};
use scenarios::Api;
use serde_json::Value;

/// A position in an API's log: an Actyx stream and offset, an AT Protocol
/// `seq`, a Fauna `txn_ts` (no stream).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub stream: String,
    pub n: u64,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stream.is_empty() {
            write!(f, "{}", self.n)
        } else {
            write!(f, "{}@{}", self.n, self.stream)
        }
    }
}

/// An acknowledged publish and what the answer said.
#[derive(Debug, Clone)]
pub struct Ack {
    pub k: u64,
    pub round: u32,
    /// The log position the answer names, where the API names one a reader sees.
    pub at: Option<Pos>,
    /// What may never be handed to two events (offset, `rev`, `txn_ts`).
    pub unique: String,
    /// Sorts like the log (lamport, `rev`, `txn_ts`, zero-padded).
    pub order: String,
}

/// The log position a frame shows: the Actyx offset, the AT `seq`, the Fauna `txn_ts`.
pub fn frame_pos(api: Api, frame: &Frame) -> Option<Pos> {
    match (&frame.step, api) {
        (Some(Step::Offset(stream, offset)), _) => Some(Pos {
            stream: stream.clone(),
            n: *offset,
        }),
        (Some(Step::Seq(seq)), _) => Some(Pos {
            stream: String::new(),
            n: u64::try_from(*seq).ok()?,
        }),
        (_, Api::Fauna) => {
            let at = frame.event?.at?;
            let micros = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros();
            Some(Pos {
                stream: String::new(),
                n: u64::try_from(micros).ok()?,
            })
        }
        _ => None,
    }
}

/// What an acknowledgement says, per API.
pub fn ack(api: Api, k: u64, round: u32, answer: &Value) -> Result<Ack, String> {
    let missing = || format!("event {k}: the acknowledgement lacks its position: {answer}");
    let ack = |at: Option<Pos>, unique: String, order: String| Ack {
        k,
        round,
        at,
        unique,
        order,
    };
    match api {
        Api::Actyx => {
            let data = &answer["data"][0];
            let (Some(stream), Some(offset), Some(lamport)) = (
                data["stream"].as_str(),
                data["offset"].as_u64(),
                data["lamport"].as_u64(),
            ) else {
                return Err(missing());
            };
            let at = Pos {
                stream: stream.to_owned(),
                n: offset,
            };
            Ok(ack(
                Some(at.clone()),
                format!("offset {at}"),
                format!("{lamport:020}"),
            ))
        }
        Api::Atproto => {
            let rev = answer["commit"]["rev"].as_str().ok_or_else(missing)?;
            answer["commit"]["cid"].as_str().ok_or_else(missing)?;
            Ok(ack(None, format!("rev {rev}"), rev.to_owned()))
        }
        Api::Fauna => {
            let ts = answer["txn_ts"].as_u64().ok_or_else(missing)?;
            let at = Pos {
                stream: String::new(),
                n: ts,
            };
            Ok(ack(Some(at), format!("txn_ts {ts}"), format!("{ts:020}")))
        }
        Api::Fibric | Api::Pulse => Err("the crash test drives Actyx, AT and Fauna".to_owned()),
    }
}
