//! The transcript: everything that crossed the wire during one check case, with timestamps.
//!
//! The harness records it; oracles read it; reports show it. It is plain data
//! (serialisable), so a failing case can be saved and read back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One observation, `at_micros` after the case started, on connection `conn`
/// (0 for things that belong to no connection, such as a publish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at_micros: u64,
    pub conn: u32,
    #[serde(flatten)]
    pub observed: Observed,
}

/// What was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Observed {
    /// The harness sent a request.
    Request {
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
    },
    /// The response head, and its body when it was not a stream.
    Response {
        status: u16,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// A server-sent event.
    SseEvent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        event: String,
        data: String,
    },
    /// A server-sent-events comment (keep-alives).
    SseComment { text: String },
    /// The connection ended: end of stream, reset, timeout, or the harness closed it.
    Closed { reason: String },
    /// A fault the proxy injected.
    Fault { description: String },
    /// The harness made the target publish something.
    Published { id: String, detail: Value },
    /// Anything else worth seeing in a report.
    Note { text: String },
}

/// The record of one case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub entries: Vec<Entry>,
}

impl Transcript {
    pub fn push(&mut self, at_micros: u64, conn: u32, observed: Observed) {
        self.entries.push(Entry {
            at_micros,
            conn,
            observed,
        });
    }

    /// Entries of one connection, in order.
    pub fn of_conn(&self, conn: u32) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.conn == conn)
    }

    /// Every SSE event, with its connection, in arrival order.
    pub fn sse_events(&self) -> impl Iterator<Item = (u32, &Option<String>, &str, &str)> {
        self.entries.iter().filter_map(|e| match &e.observed {
            Observed::SseEvent { id, event, data } => {
                Some((e.conn, id, event.as_str(), data.as_str()))
            }
            _ => None,
        })
    }

    /// The first response of a connection.
    pub fn response_of(&self, conn: u32) -> Option<ResponseView<'_>> {
        self.of_conn(conn).find_map(|e| match &e.observed {
            Observed::Response {
                status,
                headers,
                body,
            } => Some(ResponseView {
                status: *status,
                headers,
                body: body.as_deref(),
            }),
            _ => None,
        })
    }
}

/// A recorded response, borrowed from a transcript.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a str>,
}

impl ResponseView<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(self.headers, name)
    }
}

/// A header's value, by case-insensitive name.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_round_trip_through_json() {
        let mut transcript = Transcript::default();
        transcript.push(
            0,
            1,
            Observed::Request {
                method: "GET".into(),
                url: "/v1/events/stream".into(),
                headers: vec![("last-event-id".into(), "ev_1".into())],
            },
        );
        transcript.push(
            10,
            1,
            Observed::Response {
                status: 200,
                headers: vec![("Content-Type".into(), "text/event-stream".into())],
                body: None,
            },
        );
        transcript.push(
            20,
            1,
            Observed::SseEvent {
                id: Some("ev_2".into()),
                event: "envelope".into(),
                data: "{}".into(),
            },
        );
        let json = serde_json::to_string(&transcript).unwrap();
        assert!(json.contains("\"kind\":\"sse-event\""), "{json}");
        let back: Transcript = serde_json::from_str(&json).unwrap();
        assert_eq!(back, transcript);
        let response = back.response_of(1).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        assert_eq!(back.sse_events().count(), 1);
    }
}
