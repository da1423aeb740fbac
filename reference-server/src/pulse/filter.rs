//! `EventFilter`: which actions a stream or subscription delivers, and on which field values.
//!
//! The JSON form is `{create?: {field: value}, update?: {after: {field:
//! value}}, delete?: {field: value}}`. An event passes when its action is
//! named and every listed field of its row (`created`, `after` or `deleted`)
//! equals the given value (JSON equality, so `1` and `"1"` differ). An action
//! a filter does not name is not delivered; `{}` therefore delivers nothing,
//! and `{"create": {}}` every create. Without a filter everything passes.
//!
//! Parsing is strict: an unknown key, a value that is not an object, or an
//! `update` without `after` (or with anything beside it) is refused, so that a
//! misspelt filter fails loudly instead of silently delivering nothing.

use serde_json::{Map, Value};

use super::events::{Action, Event};

/// Field conditions: every entry must equal the row's field.
type Conditions = Map<String, Value>;

/// A parsed `EventFilter`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    create: Option<Conditions>,
    update: Option<Conditions>,
    delete: Option<Conditions>,
}

impl EventFilter {
    /// Parses the JSON form; the error says what is wrong, for the client.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(entries) = value else {
            return Err("a filter must be an object".to_owned());
        };
        let mut filter = Self::default();
        for (key, value) in entries {
            match key.as_str() {
                "create" => filter.create = Some(conditions("filter.create", value)?),
                "delete" => filter.delete = Some(conditions("filter.delete", value)?),
                "update" => filter.update = Some(update_conditions(value)?),
                other => {
                    return Err(format!(
                        "unknown filter key {other:?}: a filter takes create, update and delete"
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// Whether the filter names `action` at all, with whatever conditions.
    pub fn names(&self, action: Action) -> bool {
        match action {
            Action::Create => self.create.is_some(),
            Action::Update => self.update.is_some(),
            Action::Delete => self.delete.is_some(),
        }
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let conditions = match event.action {
            Action::Create => &self.create,
            Action::Update => &self.update,
            Action::Delete => &self.delete,
        };
        let Some(conditions) = conditions else {
            return false;
        };
        let Some(Value::Object(row)) = event.filtered_row() else {
            return conditions.is_empty();
        };
        conditions
            .iter()
            .all(|(field, expected)| row.get(field) == Some(expected))
    }
}

/// Whether `event` passes `filter`, where no filter passes everything.
pub fn passes(filter: Option<&EventFilter>, event: &Event) -> bool {
    filter.is_none_or(|filter| filter.matches(event))
}

fn conditions(path: &str, value: &Value) -> Result<Conditions, String> {
    match value {
        Value::Object(fields) => Ok(fields.clone()),
        _ => Err(format!("{path} must be an object of field: value")),
    }
}

fn update_conditions(value: &Value) -> Result<Conditions, String> {
    let Value::Object(entries) = value else {
        return Err("filter.update must be an object like {\"after\": {...}}".to_owned());
    };
    if let Some(other) = entries.keys().find(|key| *key != "after") {
        return Err(format!(
            "unknown key {other:?} in filter.update: it takes only after"
        ));
    }
    match entries.get("after") {
        Some(after) => conditions("filter.update.after", after),
        None => Err("filter.update needs after: {field: value}".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(action: Action, row: Value) -> Event {
        let mut event = Event {
            id: "01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
            action,
            model_name: "User".to_owned(),
            created: None,
            after: None,
            before: None,
            deleted: None,
        };
        match action {
            Action::Create => event.created = Some(row),
            Action::Update => event.after = Some(row),
            Action::Delete => event.deleted = Some(row),
        }
        event
    }

    #[test]
    fn each_action_is_matched_on_its_own_row() {
        let filter = EventFilter::parse(&json!({
            "create": {"role": "admin"},
            "update": {"after": {"active": false}},
        }))
        .unwrap();
        assert!(filter.matches(&event(Action::Create, json!({"id": 1, "role": "admin"}))));
        assert!(!filter.matches(&event(Action::Create, json!({"id": 1, "role": "user"}))));
        assert!(!filter.matches(&event(Action::Create, json!({"id": 1}))));
        assert!(filter.matches(&event(Action::Update, json!({"id": 1, "active": false}))));
        assert!(!filter.matches(&event(Action::Update, json!({"id": 1, "active": "false"}))));
        // Not named, so not delivered.
        assert!(!filter.matches(&event(Action::Delete, json!({"id": 1}))));
        assert!(passes(None, &event(Action::Delete, json!({"id": 1}))));
    }

    #[test]
    fn an_empty_filter_delivers_nothing_and_empty_conditions_everything_of_their_action() {
        let none = EventFilter::parse(&json!({})).unwrap();
        let creates = EventFilter::parse(&json!({"create": {}})).unwrap();
        let row = json!({"id": 1});
        assert!(!none.matches(&event(Action::Create, row.clone())));
        assert!(creates.matches(&event(Action::Create, row.clone())));
        assert!(!creates.matches(&event(Action::Update, row)));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            json!([]),
            json!("create"),
            json!({"insert": {}}),
            json!({"create": 1}),
            json!({"create": []}),
            json!({"update": {}}),
            json!({"update": {"after": 1}}),
            json!({"update": {"after": {}, "before": {}}}),
            json!({"update": {"id": 1}}),
            json!({"delete": null}),
        ] {
            assert!(EventFilter::parse(&bad).is_err(), "{bad}");
        }
    }
}
