//! The AQL subset: parsing, precedence, refusals, and evaluation on events.

use serde_json::{Value, json};

use super::eval::{EventMeta, Pipeline, eval};
use super::{AqlErrorKind, Endpoint, FeatureError, Query, TagExpr};

fn tag(t: &str) -> TagExpr {
    TagExpr::Tag(t.to_owned())
}

fn and(a: TagExpr, b: TagExpr) -> TagExpr {
    TagExpr::And(Box::new(a), Box::new(b))
}

fn or(a: TagExpr, b: TagExpr) -> TagExpr {
    TagExpr::Or(Box::new(a), Box::new(b))
}

fn source(text: &str) -> TagExpr {
    Query::parse(text).unwrap().source
}

fn value(expr: &str, current: &Value) -> Result<Value, String> {
    let query = Query::parse(&format!("FROM allEvents SELECT {expr}")).unwrap();
    let super::Op::Select(exprs) = &query.ops[0] else {
        panic!("not a select")
    };
    eval(&exprs[0], current)
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_regroup() {
    assert_eq!(
        source("FROM 'a' | 'b' & 'c'"),
        or(tag("a"), and(tag("b"), tag("c")))
    );
    assert_eq!(
        source("FROM ('a' | 'b') & 'c'"),
        and(or(tag("a"), tag("b")), tag("c"))
    );
    assert_eq!(
        source(r#"FROM "tag-01" & ("tag-02" | 'tag-03')"#),
        and(tag("tag-01"), or(tag("tag-02"), tag("tag-03")))
    );
    assert_eq!(
        source("FROM allEvents & isLocal | appId(com.example.app)"),
        or(
            and(TagExpr::All, TagExpr::Local),
            TagExpr::AppId("com.example.app".into())
        )
    );
}

#[test]
fn quotes_inside_tags_are_doubled() {
    assert_eq!(source("FROM 'hello''s revenge'"), tag("hello's revenge"));
    assert_eq!(source(r#"FROM "a""b""#), tag("a\"b"));
}

#[test]
fn tag_expressions_select_by_tags_app_and_locality() {
    let tags = vec!["a".to_owned(), "b".to_owned()];
    let meta = EventMeta {
        tags: &tags,
        app_id: "com.example.x",
        local: false,
    };
    assert!(source("FROM 'a' & 'b'").matches(&meta));
    assert!(!source("FROM 'a' & 'c'").matches(&meta));
    assert!(source("FROM 'c' | 'b'").matches(&meta));
    assert!(!source("FROM isLocal").matches(&meta));
    assert!(source("FROM appId(com.example.x) & allEvents").matches(&meta));
    assert!(!source("FROM appId(com.example.y)").matches(&meta));
}

#[test]
fn pragmas_and_features_are_read() {
    let query = Query::parse("PRAGMA features := multiEmission zøg\nFROM 'a' SELECT _, _").unwrap();
    assert_eq!(query.features, vec!["multiEmission", "zøg"]);
    let query = Query::parse("FEATURES(multiEmission) FROM 'a' SELECT _, _ END").unwrap();
    assert_eq!(query.features, vec!["multiEmission"]);
    assert_eq!(query.check_features(Endpoint::Query), Ok(()));
    assert_eq!(
        query.check_features(Endpoint::Subscribe),
        Err(FeatureError::Unsupported("multiEmission"))
    );
}

#[test]
fn gated_features_follow_the_node() {
    let multi = Query::parse("FROM 'a' SELECT _, _").unwrap();
    assert_eq!(
        multi.check_features(Endpoint::Query),
        Err(FeatureError::NotEnabled(vec!["multiEmission"]))
    );
    let limited = Query::parse("FROM 'a' LIMIT 3").unwrap();
    assert_eq!(limited.check_features(Endpoint::Subscribe), Ok(()));
    assert_eq!(
        limited.check_features(Endpoint::SubscribeMonotonic),
        Err(FeatureError::Unsupported("limit"))
    );
}

#[test]
fn syntax_errors_say_where() {
    for bad in [
        "",
        "FROM",
        "FROM x",
        "FROM 'a' &",
        "FROM ('a'",
        "FROM ''",
        "FROM 'a' FILTER",
        "FROM 'a' LIMIT 0",
        "FROM 'a' LIMIT x",
        "FROM 'a' END 'b'",
        "FROM 'a' FILTER _.x && _.y",
        "FROM 'a' FILTER Foo(1)",
        "SELECT _",
    ] {
        let error = Query::parse(bad).unwrap_err();
        assert!(
            matches!(error.kind, AqlErrorKind::Syntax(_)),
            "{bad:?} gave {error}"
        );
    }
}

#[test]
fn unsupported_features_are_named_not_misanswered() {
    for (query, named) in [
        ("FROM 'a' AGGREGATE SUM(_)", "AGGREGATE"),
        ("FROM 'a' LET x := 1", "LET"),
        ("FROM from(2021-07-07Z)", "time and event-key ranges"),
        ("FROM 'a' ORDER DESC", "ORDER"),
        ("FROM [1, 2]", "array"),
        ("FROM `a{_}`", "interpolation"),
        ("FROM 'a' SELECT CASE _ => 1 ENDCASE", "CASE"),
        ("FROM 'a' SELECT TIME(_)", "metadata"),
        ("FROM 'a' SELECT ...[_]", "spread"),
        ("FROM 'a' SELECT x", "LET"),
        ("PRAGMA events\nx\nENDPRAGMA\nFROM 'a'", "PRAGMA"),
    ] {
        let error = Query::parse(query).unwrap_err();
        let AqlErrorKind::Unsupported(what) = &error.kind else {
            panic!("{query:?} gave {error}")
        };
        assert!(what.contains(named), "{query:?}: {what}");
        assert!(error.to_string().contains("not supported"));
    }
}

#[test]
fn hostile_nesting_is_refused_not_overflowed() {
    let deep = format!("FROM {}'a'{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Query::parse(&deep).is_err());
    let deep = format!("FROM 'a' FILTER {}TRUE", "!".repeat(10_000));
    assert!(Query::parse(&deep).is_err());
    let deep = format!(
        "FROM 'a' SELECT {}1{}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(Query::parse(&deep).is_err());
}

#[test]
fn expressions_compute_like_the_node() {
    let payload = json!({"x": 7, "name": "ax", "list": [1, 2.5], "flag": true});
    let v = |e| value(e, &payload);
    assert_eq!(v("_.x + 1"), Ok(json!(8)));
    assert_eq!(v("_.x / 2"), Ok(json!(3)));
    assert_eq!(v("_.x % 4"), Ok(json!(3)));
    assert_eq!(v("2 ^ 3 ^ 2"), Ok(json!(512)));
    assert_eq!(v("1 + 2 * 3"), Ok(json!(7)));
    assert_eq!(v("_.list[1] * 2"), Ok(json!(5.0)));
    assert_eq!(v("_['name']"), Ok(json!("ax")));
    assert_eq!(
        v("{ a: _.x, b: [_.flag, NULL] }"),
        Ok(json!({"a": 7, "b": [true, null]}))
    );
    assert_eq!(v("1.0"), Ok(json!(1)));
    assert_eq!(v("-1"), Ok(json!(-1.0)));
    assert_eq!(v("_.x > 5 & _.name = 'ax'"), Ok(json!(true)));
    assert_eq!(v("_.x < 5 | !_.flag"), Ok(json!(false)));
    assert_eq!(v("TRUE ~ TRUE"), Ok(json!(false)));
    assert_eq!(v("_.x = 7.0"), Ok(json!(true)));
    assert_eq!(v("IsDefined(_.nope)"), Ok(json!(false)));
    assert_eq!(v("_.nope ?? 'fallback'"), Ok(json!("fallback")));
}

#[test]
fn evaluation_errors_are_messages() {
    let payload = json!({"x": 7, "s": "text", "o": {}});
    let v = |e| value(e, &payload);
    assert_eq!(
        v("_.nope").unwrap_err(),
        "property `nope` not found in Object"
    );
    assert_eq!(
        v("_.s + 1").unwrap_err(),
        "`\"text\"` is not of type Number"
    );
    assert_eq!(
        v("_.x < 's'").unwrap_err(),
        "binary operation < cannot be applied to Number and String"
    );
    assert!(v("_.o = _.o").is_err(), "objects cannot be compared");
    assert_eq!(v("1 - 2").unwrap_err(), "integer overflow");
    assert_eq!(v("1 / 0").unwrap_err(), "division by zero");
    // Both sides of & and | are evaluated, as on the node.
    assert!(v("FALSE & _.nope").is_err());
}

#[test]
fn the_pipeline_filters_selects_limits_and_reports() {
    let query = Query::parse("FROM 'a' FILTER _.n > 1 SELECT _.n * 10 LIMIT 2").unwrap();
    let mut pipeline = Pipeline::new(query);
    let tags = vec!["a".to_owned()];
    let meta = EventMeta {
        tags: &tags,
        app_id: "com.example.x",
        local: true,
    };
    let outputs = |p: &mut Pipeline, payload: Value| {
        let outcome = p.feed(&meta, &payload);
        (
            outcome
                .outputs
                .into_iter()
                .map(|o| o.value)
                .collect::<Vec<_>>(),
            outcome.diagnostics,
        )
    };
    assert_eq!(outputs(&mut pipeline, json!({"n": 1})), (vec![], vec![]));
    assert_eq!(
        outputs(&mut pipeline, json!({"m": 1})),
        (vec![], vec!["property `n` not found in Object".to_owned()])
    );
    assert_eq!(
        outputs(&mut pipeline, json!({"n": 2})),
        (vec![json!(20)], vec![])
    );
    assert!(!pipeline.exhausted());
    assert_eq!(
        outputs(&mut pipeline, json!({"n": 3})),
        (vec![json!(30)], vec![])
    );
    assert!(pipeline.exhausted());
    assert_eq!(outputs(&mut pipeline, json!({"n": 4})), (vec![], vec![]));
}

#[test]
fn a_constant_select_has_no_event_behind_it() {
    let mut pipeline = Pipeline::new(Query::parse("FROM allEvents SELECT 42").unwrap());
    let meta = EventMeta {
        tags: &[],
        app_id: "com.example.x",
        local: true,
    };
    let outcome = pipeline.feed(&meta, &json!({}));
    assert!(outcome.outputs[0].synthetic);
    let mut pipeline = Pipeline::new(Query::parse("FROM allEvents SELECT _").unwrap());
    assert!(!pipeline.feed(&meta, &json!({})).outputs[0].synthetic);
}

#[test]
fn admitting_an_event_counts_as_feeding_it_when_only_limits_follow() {
    for text in [
        "FROM 'a'",
        "FROM 'a' LIMIT 2",
        "FROM 'a' | 'b' LIMIT 3 LIMIT 1",
    ] {
        let query = Query::parse(text).unwrap();
        let mut fed = Pipeline::new(query.clone());
        let mut admitted = Pipeline::new(query);
        assert!(admitted.passes_unchanged(), "{text}");
        for tag in ["a", "c", "b", "a", "a", "a"] {
            let tags = vec![tag.to_owned()];
            let meta = EventMeta {
                tags: &tags,
                app_id: "com.example.x",
                local: true,
            };
            let payload = json!({"tag": tag});
            let outcome = fed.feed(&meta, &payload);
            let passed = admitted.admit(&meta);
            assert_eq!(passed, !outcome.outputs.is_empty(), "{text} {tag}");
            if passed {
                assert_eq!(outcome.outputs.len(), 1, "{text}");
                assert_eq!(outcome.outputs[0].value, payload);
                assert!(!outcome.outputs[0].synthetic);
            }
            assert_eq!(admitted.exhausted(), fed.exhausted(), "{text} {tag}");
        }
    }
    for text in [
        "FROM 'a' FILTER _.n > 1",
        "FROM 'a' SELECT _",
        "FROM 'a' LIMIT 1 SELECT _",
    ] {
        assert!(
            !Pipeline::new(Query::parse(text).unwrap()).passes_unchanged(),
            "{text}"
        );
    }
}
