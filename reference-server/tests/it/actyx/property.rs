//! Query results equal a brute-force filter of everything published: generated events, tag expressions and bounds.
//!
//! The model here is independent of the server's AQL code: its own
//! expression tree, its own rendering to AQL text (both quote styles,
//! doubled quotes, redundant parentheses), its own matching and ordering.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Ax, foreign_stream};

const TAGS: &[&str] = &["a", "b", "it's", "x y", "ü"];
const APPS: &[&str] = &["com.example.tests", "com.example.other"];

#[derive(Debug, Clone)]
enum Expr {
    Tag(usize),
    All,
    Local,
    App(usize),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        6 => (0..TAGS.len()).prop_map(Expr::Tag),
        1 => Just(Expr::All),
        1 => Just(Expr::Local),
        1 => (0..APPS.len()).prop_map(Expr::App),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// AQL text; `style` varies quoting and parenthesisation. `&` binds tighter
/// than `|`, so an `Or` inside an `And` needs parentheses and nothing else does.
fn render(e: &Expr, style: u8, out: &mut String) {
    match e {
        Expr::Tag(i) => {
            let tag = TAGS[*i];
            if style.is_multiple_of(2) {
                out.push('\'');
                out.push_str(&tag.replace('\'', "''"));
                out.push('\'');
            } else {
                out.push('"');
                out.push_str(&tag.replace('"', "\"\""));
                out.push('"');
            }
        }
        Expr::All => out.push_str("allEvents"),
        Expr::Local => out.push_str("isLocal"),
        Expr::App(i) => {
            out.push_str("appId(");
            out.push_str(APPS[*i]);
            out.push(')');
        }
        Expr::And(a, b) => {
            for (i, side) in [a, b].into_iter().enumerate() {
                if i == 1 {
                    out.push_str(" & ");
                }
                let wrap = matches!(**side, Expr::Or(..)) || style.is_multiple_of(3);
                if wrap {
                    out.push('(');
                }
                render(side, style / 2, out);
                if wrap {
                    out.push(')');
                }
            }
        }
        Expr::Or(a, b) => {
            let wrap = style.is_multiple_of(5);
            render(a, style / 3, out);
            out.push_str(if wrap { " | (" } else { " | " });
            render(b, style / 3, out);
            if wrap {
                out.push(')');
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Ev {
    lamport: u64,
    stream: String,
    offset: u64,
    tags: Vec<String>,
    app: String,
    local: bool,
    payload: Value,
}

fn matches(e: &Expr, ev: &Ev) -> bool {
    match e {
        Expr::Tag(i) => ev.tags.iter().any(|t| t == TAGS[*i]),
        Expr::All => true,
        Expr::Local => ev.local,
        Expr::App(i) => ev.app == APPS[*i],
        Expr::And(a, b) => matches(a, ev) && matches(b, ev),
        Expr::Or(a, b) => matches(a, ev) || matches(b, ev),
    }
}

/// Node ids compare as bytes and crypt base64 keeps byte order, so the text sorts right.
fn key(ev: &Ev) -> (u64, String, u64) {
    let (node, nr) = ev.stream.rsplit_once('-').unwrap();
    (
        ev.lamport,
        format!("{node}-{:020}", nr.parse::<u64>().unwrap()),
        ev.offset,
    )
}

/// A foreign event: lamport step along its stream, tag indexes, app index.
type Foreign = (u64, Vec<usize>, usize);

#[derive(Debug, Clone)]
struct Case {
    /// Local publishes: batches of (tag indexes).
    local: Vec<Vec<Vec<usize>>>,
    /// Foreign streams: (fill char, stream nr, events).
    foreign: Vec<(char, u64, Vec<Foreign>)>,
    queries: Vec<(Expr, u8)>,
    /// Bounds as fractions of each stream's length, per query.
    bounds: Vec<(u8, u8)>,
}

fn tag_set() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..TAGS.len(), 0..3)
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::collection::vec(tag_set(), 1..4), 1..4),
        prop::collection::vec(
            (
                prop::sample::select(vec!['0', 'M', 'z']),
                0u64..3,
                // Lamport steps along the stream.
                prop::collection::vec((1u64..6, tag_set(), 0..APPS.len()), 1..5),
            ),
            0..3,
        ),
        prop::collection::vec((expr(), any::<u8>()), 1..5),
        prop::collection::vec((any::<u8>(), any::<u8>()), 5),
    )
        .prop_map(|(local, foreign, queries, bounds)| Case {
            local,
            foreign,
            queries,
            bounds,
        })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

async fn run(case: Case) -> Result<(), TestCaseError> {
    let (_server, ax): (_, Ax) = super::server().await;
    let local_stream = format!("{}-0", ax.node_id().await);
    let mut all: Vec<Ev> = Vec::new();
    // The routing events every fresh node starts with.
    for line in super::events(
        &ax.query(&json!({"query": "FROM allEvents", "order": "asc"}))
            .await,
    ) {
        all.push(Ev {
            lamport: line["lamport"].as_u64().unwrap(),
            stream: local_stream.clone(),
            offset: line["offset"].as_u64().unwrap(),
            tags: vec!["event_routing".into()],
            app: "com.actyx".into(),
            local: true,
            payload: line["payload"].clone(),
        });
    }
    let mut serial = 0;
    for batch in &case.local {
        let mut events: Vec<(Vec<&str>, Value)> = Vec::new();
        for tags in batch {
            serial += 1;
            events.push((tags.iter().map(|i| TAGS[*i]).collect(), json!(serial)));
        }
        let refs: Vec<(&[&str], Value)> = events
            .iter()
            .map(|(t, p)| (t.as_slice(), p.clone()))
            .collect();
        let published = ax.publish(&refs).await;
        for ((tags, payload), answer) in events.iter().zip(published) {
            let mut tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
            tags.sort();
            tags.dedup();
            all.push(Ev {
                lamport: answer["lamport"].as_u64().unwrap(),
                stream: local_stream.clone(),
                offset: answer["offset"].as_u64().unwrap(),
                tags,
                app: super::APP.to_owned(),
                local: true,
                payload: payload.clone(),
            });
        }
    }
    // Per foreign stream: the next offset and the last lamport (lamports grow along a stream).
    let mut seen_streams: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (fill, nr, events) in &case.foreign {
        let stream = foreign_stream(*fill, *nr);
        let (first, mut last_lamport) = *seen_streams.get(&stream).unwrap_or(&(0, 0));
        let mut body = Vec::new();
        for (i, (step, tags, app)) in events.iter().enumerate() {
            serial += 1;
            let offset = first + i as u64;
            last_lamport += step;
            let lamport = &last_lamport;
            let mut tag_names: Vec<String> = tags.iter().map(|t| TAGS[*t].to_owned()).collect();
            tag_names.sort();
            tag_names.dedup();
            body.push(json!({"offset": offset, "lamport": lamport, "tags": tag_names, "appId": APPS[*app], "payload": serial}));
            all.push(Ev {
                lamport: *lamport,
                stream: stream.clone(),
                offset,
                tags: tag_names,
                app: APPS[*app].to_owned(),
                local: false,
                payload: json!(serial),
            });
        }
        seen_streams.insert(stream.clone(), (first + events.len() as u64, last_lamport));
        let response = ax
            .replicate(&json!({"stream": stream, "events": body}))
            .await;
        prop_assert_eq!(response.status(), reqwest::StatusCode::OK);
    }
    all.sort_by_key(key);
    let mut present: BTreeMap<String, u64> = BTreeMap::new();
    for ev in &all {
        present.insert(ev.stream.clone(), ev.offset);
    }

    for (i, (expr, style)) in case.queries.iter().enumerate() {
        let mut text = "FROM ".to_owned();
        render(expr, *style, &mut text);
        // Bounds: a lower and an upper offset per stream, from the case's fractions.
        let (lo, hi) = case.bounds[i % case.bounds.len()];
        let mut lower = serde_json::Map::new();
        let mut upper = serde_json::Map::new();
        for (stream, last) in &present {
            let l = i64::try_from(*last * u64::from(lo) / 255).unwrap() - 1;
            let u = (*last * u64::from(hi) / 255).max(u64::try_from(l.max(0)).unwrap());
            lower.insert(stream.clone(), json!(l));
            upper.insert(stream.clone(), json!(u));
        }
        let in_bounds = |ev: &Ev| {
            let l = lower[&ev.stream].as_i64().unwrap();
            let u = upper[&ev.stream].as_u64().unwrap();
            i64::try_from(ev.offset).unwrap() > l && ev.offset <= u
        };
        let expected: Vec<Value> = all
            .iter()
            .filter(|ev| matches(expr, ev))
            .map(|ev| ev.payload.clone())
            .collect();
        let expected_bounded: Vec<Value> = all
            .iter()
            .filter(|ev| matches(expr, ev) && in_bounds(ev))
            .map(|ev| ev.payload.clone())
            .collect();

        let asc = ax.query(&json!({"query": text, "order": "asc"})).await;
        let got: Vec<Value> = super::events(&asc)
            .iter()
            .map(|e| e["payload"].clone())
            .collect();
        prop_assert_eq!(&got, &expected, "asc {}", text);
        let desc = ax.query(&json!({"query": text, "order": "desc"})).await;
        let mut got: Vec<Value> = super::events(&desc)
            .iter()
            .map(|e| e["payload"].clone())
            .collect();
        got.reverse();
        prop_assert_eq!(&got, &expected, "desc {}", text);
        let bounded = ax
            .query(
                &json!({"query": text, "order": "asc", "lowerBound": lower, "upperBound": upper}),
            )
            .await;
        let got: Vec<Value> = super::events(&bounded)
            .iter()
            .map(|e| e["payload"].clone())
            .collect();
        prop_assert_eq!(
            &got,
            &expected_bounded,
            "bounded {} {:?} {:?}",
            text,
            lower,
            upper
        );
        prop_assert_eq!(
            bounded.last().unwrap(),
            &json!({"type": "offsets", "offsets": upper}),
            "the offsets line names the upper bound"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn query_results_equal_a_brute_force_filter(case in case()) {
        runtime().block_on(run(case))?;
    }
}
