//! The seed's `components/schemas`, transcribed: each named schema with the properties it types, the required ones, and the enums, constants, patterns and formats it states.

use super::{Component, Format, Object, Pattern, Schema, Text};

const fn string(text: Text) -> Schema {
    Schema::String(text)
}

static STRING: Schema = string(Text::ANY);
static ULID: Schema = string(Text {
    pattern: Some(Pattern::Ulid),
    ..Text::ANY
});
static DATE_TIME: Schema = string(Text {
    format: Some(Format::DateTime),
    ..Text::ANY
});
/// `type: object` with `additionalProperties: true` and nothing else.
static ANY_OBJECT: Schema = Schema::Object(Object {
    properties: &[],
    required: &[],
});

pub static EVENT_FILTER: Component = Component {
    name: "EventFilter",
    schema: Schema::Object(Object {
        properties: &[
            ("create", &ANY_OBJECT),
            (
                "update",
                &Schema::Object(Object {
                    properties: &[("after", &ANY_OBJECT)],
                    required: &[],
                }),
            ),
            ("delete", &ANY_OBJECT),
        ],
        required: &[],
    }),
};

pub static STREAM_CREATE_REQUEST: Component = Component {
    name: "StreamCreateRequest",
    schema: Schema::Object(Object {
        properties: &[
            ("name", &STRING),
            ("model", &STRING),
            ("filter", &Schema::Ref(&EVENT_FILTER)),
        ],
        required: &["name", "model"],
    }),
};

pub static STREAM_INFO: Component = Component {
    name: "StreamInfo",
    schema: Schema::Object(Object {
        properties: &[
            ("name", &STRING),
            ("model", &STRING),
            (
                "status",
                &string(Text {
                    one_of: &["active", "paused", "stopped"],
                    ..Text::ANY
                }),
            ),
            ("cursor", &STRING),
            ("createdAt", &DATE_TIME),
        ],
        required: &["name", "model", "status", "createdAt"],
    }),
};

pub static SUBSCRIPTION_REQUEST: Component = Component {
    name: "SubscriptionRequest",
    schema: Schema::Object(Object {
        properties: &[("model", &STRING), ("filter", &Schema::Ref(&EVENT_FILTER))],
        required: &["model"],
    }),
};

/// `PulseEvent`'s own properties, which each variant's `allOf` includes.
static EVENT_FIELDS: Schema = Schema::Object(Object {
    properties: &[
        ("id", &ULID),
        (
            "action",
            &string(Text {
                one_of: &["create", "update", "delete"],
                ..Text::ANY
            }),
        ),
        ("modelName", &STRING),
    ],
    required: &["id", "action", "modelName"],
});

pub static PULSE_EVENT: Component = Component {
    name: "PulseEvent",
    schema: Schema::Discriminated {
        base: &EVENT_FIELDS,
        property: "action",
        mapping: &[
            ("create", &PULSE_CREATE_EVENT),
            ("update", &PULSE_UPDATE_EVENT),
            ("delete", &PULSE_DELETE_EVENT),
        ],
    },
};

pub static PULSE_CREATE_EVENT: Component = Component {
    name: "PulseCreateEvent",
    schema: Schema::AllOf(&[
        &EVENT_FIELDS,
        &Schema::Object(Object {
            properties: &[
                (
                    "action",
                    &string(Text {
                        constant: Some("create"),
                        ..Text::ANY
                    }),
                ),
                ("created", &ANY_OBJECT),
            ],
            required: &["created"],
        }),
    ]),
};

pub static PULSE_UPDATE_EVENT: Component = Component {
    name: "PulseUpdateEvent",
    schema: Schema::AllOf(&[
        &EVENT_FIELDS,
        &Schema::Object(Object {
            properties: &[
                (
                    "action",
                    &string(Text {
                        constant: Some("update"),
                        ..Text::ANY
                    }),
                ),
                ("after", &ANY_OBJECT),
                ("before", &ANY_OBJECT),
            ],
            required: &["after"],
        }),
    ]),
};

pub static PULSE_DELETE_EVENT: Component = Component {
    name: "PulseDeleteEvent",
    schema: Schema::AllOf(&[
        &EVENT_FIELDS,
        &Schema::Object(Object {
            properties: &[
                (
                    "action",
                    &string(Text {
                        constant: Some("delete"),
                        ..Text::ANY
                    }),
                ),
                ("deleted", &ANY_OBJECT),
            ],
            required: &["deleted"],
        }),
    ]),
};

pub static HEALTH_STATUS: Component = Component {
    name: "HealthStatus",
    schema: Schema::Object(Object {
        properties: &[
            (
                "status",
                &string(Text {
                    one_of: &["healthy", "degraded", "unavailable"],
                    ..Text::ANY
                }),
            ),
            (
                "replicationStatus",
                &string(Text {
                    one_of: &["connected", "disconnected", "reconnecting"],
                    ..Text::ANY
                }),
            ),
            ("timestamp", &DATE_TIME),
        ],
        required: &["status", "timestamp"],
    }),
};

pub static PULSE_ERROR: Component = Component {
    name: "PulseError",
    schema: Schema::Object(Object {
        properties: &[
            ("code", &STRING),
            ("message", &STRING),
            ("meta", &ANY_OBJECT),
        ],
        required: &["code", "message"],
    }),
};
