//! The seed's OpenAPI description of Pulse (seed 001) as data: every operation with its documented statuses, content types and body schemas, and the component schemas.
//!
//! Transcribed by hand from the seed, which is the contract: a status an
//! operation does not document is a deviation, and so is a body that does
//! not match its schema. The operations and types are here, the component
//! schemas in `schemas`, and the validator of values, answers and events in
//! `validate`, and of whole transcripts in `reading` (all re-exported); the tests hold the
//! transcription to the seed's own text, so the two cannot drift apart.
//!
//! Only what the seed states is here: `type`, `properties`, `required`,
//! `enum`, `const`, `pattern`, `format`, `items`, `allOf` and the
//! discriminator of `PulseEvent`. Every object the seed describes allows
//! other properties (it never says `additionalProperties: false`).

mod reading;
mod schemas;
mod validate;

pub use schemas::{
    EVENT_FILTER, HEALTH_STATUS, PULSE_CREATE_EVENT, PULSE_DELETE_EVENT, PULSE_ERROR, PULSE_EVENT,
    PULSE_UPDATE_EVENT, STREAM_CREATE_REQUEST, STREAM_INFO, SUBSCRIPTION_REQUEST,
};

pub use reading::{Tally, path_below, read, transcript};
pub use validate::{Violation, event, find, response, value};

/// A JSON schema, as far as the seed uses them.
#[derive(Debug)]
pub enum Schema {
    /// `type: string`, with what the seed adds to it.
    String(Text),
    /// `type: object`: the properties the seed types, and the required ones.
    Object(Object),
    /// `type: array` of `items`.
    Array(&'static Schema),
    /// `allOf`: the value matches every part.
    AllOf(&'static [&'static Schema]),
    /// A `$ref` to a named component, named in violations.
    Ref(&'static Component),
    /// The base object, then the component `mapping` names for the value
    /// of `property` (the seed's `discriminator`).
    Discriminated {
        base: &'static Schema,
        property: &'static str,
        mapping: &'static [(&'static str, &'static Component)],
    },
}

/// What the seed says of a string.
#[derive(Debug)]
pub struct Text {
    /// `enum` (empty: any value).
    pub one_of: &'static [&'static str],
    /// `const`.
    pub constant: Option<&'static str>,
    pub pattern: Option<Pattern>,
    pub format: Option<Format>,
}

impl Text {
    const ANY: Text = Text {
        one_of: &[],
        constant: None,
        pattern: None,
        format: None,
    };
}

/// The `pattern`s the seed uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `^[0-9A-HJKMNP-TV-Z]{26}$`: a ULID in upper-case Crockford base32.
    Ulid,
}

impl Pattern {
    /// The pattern as the seed writes it.
    pub fn source(self) -> &'static str {
        match self {
            Pattern::Ulid => "^[0-9A-HJKMNP-TV-Z]{26}$",
        }
    }

    pub fn matches(self, text: &str) -> bool {
        match self {
            Pattern::Ulid => super::shape::is_ulid(text),
        }
    }
}

/// The `format`s the seed uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `date-time`: RFC 3339.
    DateTime,
}

/// An object's typed properties and required ones; others are allowed.
#[derive(Debug)]
pub struct Object {
    pub properties: &'static [(&'static str, &'static Schema)],
    pub required: &'static [&'static str],
}

/// A named schema of `components/schemas`.
#[derive(Debug)]
pub struct Component {
    pub name: &'static str,
    pub schema: Schema,
}

/// The media types of the seed's bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    /// Server-sent events; the schema is that of each event's data.
    EventStream,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::EventStream => "text/event-stream",
        }
    }
}

/// One documented response of an operation.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The body's media type and schema; `None`: no body (`204`).
    pub content: Option<(MediaType, &'static Schema)>,
}

/// One operation of the seed's `paths`.
#[derive(Debug)]
pub struct Operation {
    pub id: &'static str,
    pub method: &'static str,
    /// The path template, with `{name}` for a path parameter.
    pub path: &'static str,
    /// Whether `apiKeyAuth` applies (every operation but `/health`).
    pub secured: bool,
    /// The required JSON request body, if the operation takes one.
    pub request: Option<&'static Component>,
    /// A path parameter's pattern, where the seed states one.
    pub parameter: Option<(&'static str, Pattern)>,
    pub answers: &'static [Answer],
}

impl Operation {
    /// The statuses the seed documents for this operation.
    pub fn statuses(&self) -> Vec<u16> {
        self.answers.iter().map(|a| a.status).collect()
    }

    /// The documented answer with `status`.
    pub fn answer(&self, status: u16) -> Option<&'static Answer> {
        self.answers.iter().find(|a| a.status == status)
    }

    /// Whether the operation's `200` is a stream of server-sent events.
    pub fn streams(&self) -> bool {
        self.answer(200)
            .is_some_and(|a| matches!(a.content, Some((MediaType::EventStream, _))))
    }

    /// `METHOD /path (operationId)`, for messages.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.method, self.path, self.id)
    }
}

/// The `200` of `listStreams`: `{data: [StreamInfo]}`, nothing required.
static STREAM_LIST: Schema = Schema::Object(Object {
    properties: &[("data", &Schema::Array(&Schema::Ref(&STREAM_INFO)))],
    required: &[],
});

static ERROR: Schema = Schema::Ref(&PULSE_ERROR);
static EVENT: Schema = Schema::Ref(&PULSE_EVENT);

/// An error answer: every error response of the seed is a JSON `PulseError`.
const fn error(status: u16) -> Answer {
    Answer {
        status,
        content: Some((MediaType::Json, &ERROR)),
    }
}

const fn json(status: u16, schema: &'static Schema) -> Answer {
    Answer {
        status,
        content: Some((MediaType::Json, schema)),
    }
}

const fn events() -> Answer {
    Answer {
        status: 200,
        content: Some((MediaType::EventStream, &EVENT)),
    }
}

static STREAM_INFO_BODY: Schema = Schema::Ref(&STREAM_INFO);
static HEALTH_BODY: Schema = Schema::Ref(&HEALTH_STATUS);

/// Every operation of the seed, in the seed's order.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        id: "createStream",
        method: "POST",
        path: "/streams",
        secured: true,
        request: Some(&STREAM_CREATE_REQUEST),
        parameter: None,
        answers: &[
            json(201, &STREAM_INFO_BODY),
            error(400),
            error(401),
            error(409),
            error(500),
        ],
    },
    Operation {
        id: "listStreams",
        method: "GET",
        path: "/streams",
        secured: true,
        request: None,
        parameter: None,
        answers: &[json(200, &STREAM_LIST), error(401), error(500)],
    },
    Operation {
        id: "consumeStreamEvents",
        method: "GET",
        path: "/streams/{streamName}/events",
        secured: true,
        request: None,
        parameter: None,
        answers: &[events(), error(401), error(404), error(500)],
    },
    Operation {
        id: "deleteStream",
        method: "DELETE",
        path: "/streams/{streamName}",
        secured: true,
        request: None,
        parameter: None,
        answers: &[
            Answer {
                status: 204,
                content: None,
            },
            error(401),
            error(404),
            error(500),
        ],
    },
    Operation {
        id: "createSubscription",
        method: "POST",
        path: "/subscribe",
        secured: true,
        request: Some(&SUBSCRIPTION_REQUEST),
        parameter: None,
        answers: &[events(), error(400), error(401), error(500)],
    },
    Operation {
        id: "getEvent",
        method: "GET",
        path: "/events/{eventId}",
        secured: true,
        request: None,
        parameter: Some(("eventId", Pattern::Ulid)),
        answers: &[json(200, &EVENT), error(401), error(404), error(500)],
    },
    Operation {
        id: "getHealthStatus",
        method: "GET",
        path: "/health",
        secured: false,
        request: None,
        parameter: None,
        answers: &[json(200, &HEALTH_BODY), json(503, &HEALTH_BODY)],
    },
];

/// The operation with `operationId` `id`.
pub fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

#[cfg(test)]
mod tests;
