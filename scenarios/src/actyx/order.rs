//! Where an Actyx event sorts (lamport, then stream id, then offset) and the oracles of the three query orders.
//!
//! A stream id is `<node id>-<number>`; node ids are written in an
//! order-preserving base64 alphabet, so they compare as text, and stream
//! numbers compare as numbers (`-2` before `-10`). This is written from the
//! seed and the Actyx node's documentation, apart from the reference server.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Finding;

/// An event's position: what the seed's orders sort by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub lamport: u64,
    pub stream: String,
    pub offset: u64,
}

/// A stream id split into what it sorts by: the node id text and the stream number.
pub fn stream_parts(stream: &str) -> (&str, Option<u64>) {
    match stream.rsplit_once('-') {
        Some((node, nr)) => (node, nr.parse().ok()),
        None => (stream, None),
    }
}

/// Whether `stream` has the form `<43-character node id>-<number>`.
pub fn is_stream_id(stream: &str) -> bool {
    let (node, nr) = stream_parts(stream);
    nr.is_some()
        && node.len() == 43
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

/// Stream ids in their sort order.
pub fn cmp_streams(a: &str, b: &str) -> Ordering {
    let (node_a, nr_a) = stream_parts(a);
    let (node_b, nr_b) = stream_parts(b);
    node_a.cmp(node_b).then(nr_a.cmp(&nr_b)).then(a.cmp(b))
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.lamport
            .cmp(&other.lamport)
            .then_with(|| cmp_streams(&self.stream, &other.stream))
            .then(self.offset.cmp(&other.offset))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The three orders of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    Asc,
    Desc,
    StreamAsc,
}

impl Order {
    pub const ALL: [Order; 3] = [Order::Asc, Order::Desc, Order::StreamAsc];

    /// The name the request uses.
    pub fn name(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
            Order::StreamAsc => "stream-asc",
        }
    }
}

fn out_of_order(order: Order, before: &Key, after: &Key) -> Finding {
    Finding::new(
        "nonmonotonic",
        format!(
            "order {}: {}@{} (lamport {}) came before {}@{} (lamport {})",
            order.name(),
            before.stream,
            before.offset,
            before.lamport,
            after.stream,
            after.offset,
            after.lamport
        ),
    )
}

/// Findings for `keys` (in arrival order) not being in `order`: asc and desc
/// are total orders over every stream; stream-asc only orders each stream.
pub fn order_findings(order: Order, keys: &[Key]) -> Vec<Finding> {
    let mut findings = Vec::new();
    match order {
        Order::Asc | Order::Desc => {
            for pair in keys.windows(2) {
                let wrong = match order {
                    Order::Asc => pair[0] >= pair[1],
                    _ => pair[0] <= pair[1],
                };
                if wrong {
                    findings.push(out_of_order(order, &pair[0], &pair[1]));
                }
            }
        }
        Order::StreamAsc => {
            let mut last: BTreeMap<&str, &Key> = BTreeMap::new();
            for key in keys {
                if let Some(previous) = last.insert(&key.stream, key)
                    && (previous.offset >= key.offset || previous.lamport >= key.lamport)
                {
                    findings.push(out_of_order(order, previous, key));
                }
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(lamport: u64, stream: &str, offset: u64) -> Key {
        Key {
            lamport,
            stream: stream.to_owned(),
            offset,
        }
    }

    const A: &str = "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s";
    const B: &str = "2g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s";

    #[test]
    fn keys_sort_by_lamport_then_stream_then_offset() {
        let a2 = format!("{A}-2");
        let a10 = format!("{A}-10");
        let b0 = format!("{B}-0");
        assert!(is_stream_id(&a10) && !is_stream_id("abc-1") && !is_stream_id(A));
        assert!(key(1, &b0, 9) < key(2, &a2, 0));
        assert!(
            key(2, &a2, 5) < key(2, &a10, 0),
            "stream numbers are numbers"
        );
        assert!(key(2, &a10, 5) < key(2, &b0, 0), "then node ids");
    }

    #[test]
    fn each_order_is_judged_by_its_own_rule() {
        let a = format!("{A}-0");
        let b = format!("{B}-0");
        let asc = vec![key(1, &a, 0), key(1, &b, 0), key(2, &a, 1)];
        assert!(order_findings(Order::Asc, &asc).is_empty());
        let mut desc = asc.clone();
        desc.reverse();
        assert!(order_findings(Order::Desc, &desc).is_empty());
        assert_eq!(order_findings(Order::Asc, &desc).len(), 2);
        // The tie at lamport 1 is broken by stream id: b before a is wrong.
        let tie = vec![key(1, &b, 0), key(1, &a, 0)];
        assert_eq!(order_findings(Order::Asc, &tie).len(), 1);
        // stream-asc: streams interleave freely, each ascends.
        let per_stream = vec![key(2, &a, 1), key(1, &b, 0), key(3, &a, 2)];
        assert!(order_findings(Order::StreamAsc, &per_stream).is_empty());
        let backwards = vec![key(3, &a, 2), key(2, &a, 1)];
        assert_eq!(order_findings(Order::StreamAsc, &backwards).len(), 1);
    }
}
