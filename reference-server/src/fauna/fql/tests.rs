//! The FQL subset: what is recognised, with what values, and what is refused.

use serde_json::json;

use super::{Command, FqlErrorKind, Fragment, SourceSpec, compile};

fn text(query: &str) -> Result<Command, super::FqlError> {
    compile(&[Fragment::Text(query.to_owned())])
}

#[test]
fn documents_are_created_read_changed_and_deleted() {
    assert_eq!(
        text(r#"Product.create({ name: "cup", price: 4.5, tags: ["a", 'b'], stock: { n: 2 } })"#),
        Ok(Command::Create {
            collection: "Product".into(),
            data: json!({"name": "cup", "price": 4.5, "tags": ["a", "b"], "stock": {"n": 2}})
                .as_object()
                .unwrap()
                .clone(),
        })
    );
    assert_eq!(
        text(r#"Product.byId("123")"#),
        Ok(Command::Get {
            collection: "Product".into(),
            id: "123".into()
        })
    );
    assert!(matches!(
        text(r#"Product.byId("123")!.update({ price: 5 })"#),
        Ok(Command::Update { id, .. }) if id == "123"
    ));
    assert!(matches!(
        text(r#"Product.byId("123").replace({ name: "x" })"#),
        Ok(Command::Replace { .. })
    ));
    assert_eq!(
        text(r#"Product.byId("7")!.delete()"#),
        Ok(Command::Delete {
            collection: "Product".into(),
            id: "7".into()
        })
    );
    assert_eq!(
        text(r#"Collection.create({ name: "Product", history_days: 3 })"#),
        Ok(Command::CreateCollection {
            name: "Product".into(),
            history_days: Some(3)
        })
    );
}

#[test]
fn event_sources_in_each_written_form() {
    let all = SourceSpec::All {
        collection: "Product".into(),
    };
    assert_eq!(
        text("Product.all().eventSource()"),
        Ok(Command::EventSource(all))
    );
    let where_ = |path: &[&str], value| {
        Ok(Command::EventSource(SourceSpec::Where {
            collection: "Product".into(),
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            value,
        }))
    };
    assert_eq!(
        text(r#"Product.where(.type == "cup").eventSource()"#),
        where_(&["type"], json!("cup"))
    );
    assert_eq!(
        text(r#"Product.where("cup" == .type).eventSource()"#),
        where_(&["type"], json!("cup"))
    );
    assert_eq!(
        text("Product.where(.stock.n == 2).eventSource()"),
        where_(&["stock", "n"], json!(2))
    );
    assert_eq!(
        text("Product.where(p => p.stock.n == 2).eventSource()"),
        where_(&["stock", "n"], json!(2))
    );
    assert_eq!(
        text(r#"Set.single(Product.byId("42")!).eventSource()"#),
        Ok(Command::EventSource(SourceSpec::Document {
            collection: "Product".into(),
            id: "42".into()
        }))
    );
}

#[test]
fn interpolated_values_take_the_place_of_literals() {
    let fragments = [
        Fragment::Text("Product.where(.type == ".into()),
        Fragment::Value(json!("cup")),
        Fragment::Text(").eventSource()".into()),
    ];
    assert!(matches!(
        compile(&fragments),
        Ok(Command::EventSource(SourceSpec::Where { value, .. })) if value == json!("cup")
    ));
    let fragments = [
        Fragment::Text("Product.create(".into()),
        Fragment::Value(json!({"n": 1})),
        Fragment::Text(")".into()),
    ];
    assert!(matches!(compile(&fragments), Ok(Command::Create { data, .. }) if data["n"] == 1));
}

#[test]
fn everything_else_is_refused_and_says_why() {
    for query in [
        "Product.all()",
        "Product.all().eventsOn(.price)",
        "Product.where(.price > 2).eventSource()",
        "Product.all().where(.a == 1).eventSource()",
        "let x = 1; x",
        r#"Product.create({ id: "1" })"#,
        r#"Product.create({ n: 1 + 1 })"#,
        "Product.firstWhere(.a == 1)",
        r#"Collection.create({ name: "X", indexes: {} })"#,
    ] {
        let error = text(query).unwrap_err();
        assert!(
            matches!(
                error.kind,
                FqlErrorKind::Unsupported(_) | FqlErrorKind::Syntax(_)
            ),
            "{query}"
        );
    }
    for query in [
        "",
        "Product.create(",
        r#"Product.byId("abc")"#,
        "Product.byId(1, 2)",
        "{ a: }",
    ] {
        assert!(
            matches!(text(query).unwrap_err().kind, FqlErrorKind::Syntax(_)),
            "{query}"
        );
    }
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert!(text(&format!("Product.create({{ a: {deep} }})")).is_err());
}
