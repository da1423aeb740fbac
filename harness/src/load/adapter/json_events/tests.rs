//! The borrowed readings agree with the full `Value` readings: on the deliveries the reference server sends, and on generated JSON with fields of every type, nesting and duplicate keys.

use proptest::prelude::*;

use super::*;

const RUN: &str = "01m96yd05g7c8s9db8g12kwdtv";

/// serde's derived structs read an array as their fields in order; the full
/// reading finds no field in an array, and so must the fast one (a proptest
/// found `[{"k":0,"load":RUN}]` read as a Fibric delivery).
#[test]
fn an_array_is_read_as_no_object() {
    let marker = format!(r#"{{"k":0,"load":"{RUN}"}}"#);
    let arrays = [
        format!("[{marker}]"),
        format!(r#"["{RUN}",0]"#),
        format!(r#"{{"payload":["{RUN}",0],"created":["{RUN}",0]}}"#),
        format!(r#"{{"type":"add","data":["{RUN}",0],"txn_ts":5}}"#),
        format!(r#"{{"type":"add","data":{{"@doc":["{RUN}",0]}},"txn_ts":5}}"#),
    ];
    for text in &arrays {
        assert_eq!(fibric_event(text, RUN), fibric_value(text, RUN), "{text}");
        assert_eq!(fibric_event(text, RUN).marker, None, "{text}");
        assert_eq!(pulse_event(text, RUN), pulse_value(text, RUN), "{text}");
        assert_eq!(pulse_event(text, RUN).marker, None, "{text}");
        let fauna = fauna_line(text.as_bytes(), RUN);
        assert_eq!(fauna, fauna_value(text.as_bytes(), RUN), "{text}");
        assert!(fauna.0.is_none_or(|e| e.marker.is_none()), "{text}");
    }
}

#[test]
fn the_reference_servers_deliveries_are_read_on_the_fast_path() {
    let fibric = r#"{"event_id":"ld_x_0","tenant_id":"tn_a","source":"harness","event_type":"harness.load","correlation_id":null,"payload":{"load":"01m96yd05g7c8s9db8g12kwdtv","k":7},"agent_id":null,"cursor":"cur_x"}"#;
    assert_eq!(fibric_event(fibric, RUN).marker, Some(7));
    assert!(serde_json::from_str::<Envelope>(fibric).is_ok());
    assert_eq!(fibric_event(fibric, "another run").marker, None);

    let pulse = r#"{"action":"create","created":{"id":3,"load":"01m96yd05g7c8s9db8g12kwdtv","k":9},"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","modelName":"Load"}"#;
    let event = pulse_event(pulse, RUN);
    assert_eq!(event.marker, Some(9));
    assert_eq!(event.at, ulid_time("01ARZ3NDEKTSV4RRFFQ69G5FAV"));

    let fauna = br#"{"type":"add","data":{"@doc":{"id":"1","coll":{"@mod":"Load"},"ts":{"@time":"2026-12-07T00:00:00Z"},"load":"01m96yd05g7c8s9db8g12kwdtv","k":{"@int":"11"}}},"txn_ts":1765065600000000,"cursor":"gsGabc","stats":{"read_ops":1}}"#;
    let (event, step) = fauna_line(fauna, RUN);
    assert_eq!(event.and_then(|e| e.marker), Some(11));
    assert_eq!(step, Some(Step::Id("gsGabc".to_owned())));
    assert!(serde_json::from_slice::<FaunaLine>(fauna).is_ok());
    let status = br#"{"type":"status","txn_ts":1765065600000001,"cursor":"gsGdef"}"#;
    assert_eq!(
        fauna_line(status, RUN),
        (None, Some(Step::Id("gsGdef".to_owned())))
    );
}

/// JSON text, written by hand so keys can repeat.
fn json(depth: u32) -> BoxedStrategy<String> {
    let key = prop::sample::select(vec![
        "payload", "load", "k", "type", "data", "@doc", "@int", "cursor", "txn_ts", "id",
        "created", "other",
    ]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..20).prop_map(|n| n.to_string()),
        Just("-3".to_owned()),
        Just("1.5".to_owned()),
        Just("\"17\"".to_owned()),
        Just(format!("\"{RUN}\"")),
        Just(r#""01m96yd05g7c8s9db8g12\u006bwdtv""#.to_owned()),
        prop::sample::select(vec!["add", "update", "remove", "status", "error"])
            .prop_map(|s| format!("\"{s}\"")),
        Just("\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"".to_owned()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let object = prop::collection::vec((key, json(depth - 1)), 0..6).prop_map(|fields| {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", fields.join(","))
    });
    prop_oneof![1 => leaf, 3 => object, 1 => json(depth - 1).prop_map(|v| format!("[{v}]"))].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_reading_matches_the_full_one(text in json(4)) {
        prop_assert_eq!(fibric_event(&text, RUN), fibric_value(&text, RUN));
        prop_assert_eq!(pulse_event(&text, RUN), pulse_value(&text, RUN));
        prop_assert_eq!(fauna_line(text.as_bytes(), RUN), fauna_value(text.as_bytes(), RUN));
    }
}

/// Deliveries shaped like the real ones, each field perturbed: what the fast path meets.
fn delivery() -> impl Strategy<Value = String> {
    let load = prop::sample::select(vec![
        format!("\"{RUN}\""),
        "\"other\"".to_owned(),
        "5".to_owned(),
        "null".to_owned(),
    ]);
    let k = prop::sample::select(vec![
        "7",
        "\"7\"",
        r#"{"@int":"7"}"#,
        r#"{"@int":7}"#,
        r#"{"@int":"x"}"#,
        "-1",
        "null",
        "7.0",
    ]);
    let kind = prop::sample::select(vec!["\"add\"", "\"update\"", "\"status\"", "3"]);
    let wrap = prop::sample::select(vec!["plain", "@doc", "@doc null", "@doc @doc"]);
    let top = prop::sample::select(vec!["payload", "created", "data"]);
    (load, k, kind, wrap, top, any::<bool>(), any::<bool>()).prop_map(
        |(load, k, kind, wrap, top, duplicate, extra)| {
            let mut marker = format!("\"load\":{load},\"k\":{k}");
            if duplicate {
                marker.push_str(",\"k\":8");
            }
            if extra {
                marker.push_str(",\"note\":[1,{\"k\":2}]");
            }
            let body = match wrap {
                "plain" => format!("{{{marker}}}"),
                "@doc" => format!("{{\"@doc\":{{{marker}}}}}"),
                "@doc null" => format!("{{\"@doc\":null,{marker}}}"),
                _ => format!("{{\"@doc\":{{\"@doc\":{{{marker}}}}}}}"),
            };
            format!(
                "{{\"type\":{kind},\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"{top}\":{body},\"txn_ts\":5,\"cursor\":\"c\"}}"
            )
        },
    )
}

proptest! {
    #[test]
    fn perturbed_deliveries_read_as_the_full_reading_reads_them(text in delivery()) {
        prop_assert_eq!(fibric_event(&text, RUN), fibric_value(&text, RUN));
        prop_assert_eq!(pulse_event(&text, RUN), pulse_value(&text, RUN));
        prop_assert_eq!(fauna_line(text.as_bytes(), RUN), fauna_value(text.as_bytes(), RUN));
    }
}
