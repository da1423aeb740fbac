//! `harness load --rate 0`: passive subscribers on a target someone else writes to.

use std::time::Duration;

use harness::Exit;
use reference_server::config::Config;
use serde_json::{Value, json};

use super::load_support::try_load_run;

/// Writes one event every `every` until `stop`, as a producer the harness does not know of.
async fn foreign_producer(base: String, api: &'static str, every: Duration, stop: Duration) {
    let http = reqwest::Client::new();
    let actyx_token = if api == "actyx" {
        let manifest =
            json!({"appId": "com.example.other", "displayName": "other", "version": "1"});
        let answer: Value = http
            .post(format!("{base}/api/v2/auth"))
            .json(&manifest)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["token"].as_str().unwrap().to_owned()
    } else {
        String::new()
    };
    let end = tokio::time::Instant::now() + stop;
    let mut n = 0;
    while tokio::time::Instant::now() < end {
        n += 1;
        let request = match api {
            "fibric" => http
                .post(format!("{base}/_control/fibric/envelopes"))
                .bearer_auth("control_test_token")
                .json(&json!({"envelopes": [{"tenant_id": "tn_a", "event_type": "order.created", "source": "shop", "payload": {"n": n}}]})),
            _ => http
                .post(format!("{base}/api/v2/events/publish"))
                .bearer_auth(&actyx_token)
                .json(&json!({"data": [{"tags": ["orders"], "payload": {"n": n}}]})),
        };
        assert!(request.send().await.unwrap().status().is_success());
        tokio::time::sleep(every).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_subscribers_measure_connect_first_event_inter_arrival_and_age_of_foreign_events() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    for (api, stream, carries_time) in [
        ("fibric", "event_type=order.*", false),
        ("actyx", "FROM 'orders'", true),
    ] {
        let producer = tokio::spawn(foreign_producer(
            base.clone(),
            api,
            Duration::from_millis(50),
            Duration::from_secs(3),
        ));
        let args = [
            "--api",
            api,
            "--target",
            &base,
            "--rate",
            "0",
            "--subscribers",
            "3",
            "--duration",
            "2s",
            "--stream",
            stream,
        ];
        let (exit, load) = try_load_run(&dir.path().join(api), &args).await;
        producer.await.unwrap();
        let load = load.unwrap();
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        let h = &load["histograms"];
        assert_eq!(h["connect"]["count"], 3, "{api}: {load}");
        assert_eq!(h["first_event"]["count"], 3, "{api}: {load}");
        // About 40 events in 2 s, 3 subscribers: one gap fewer than events each.
        let gaps = h["inter_arrival"]["count"].as_u64().unwrap();
        assert!((60..=150).contains(&gaps), "{api}: {gaps} gaps: {load}");
        let p50 = h["inter_arrival"]["p50"].as_u64().unwrap();
        assert!(
            (30_000..=200_000).contains(&p50),
            "{api}: inter-arrival p50 {p50} µs"
        );
        if carries_time {
            assert_eq!(h["event_age"]["count"], gaps + 3, "{api}: {load}");
            assert!(
                h["event_age"]["p50"].as_u64().unwrap() < 1_000_000,
                "{api}: {load}"
            );
        } else {
            assert_eq!(h["event_age"]["count"], 0, "{api}: envelopes carry no time");
        }
        // Nothing published, nothing of the run's delivered, nothing lost.
        let c = &load["counters"];
        for zero in ["published", "delivered", "lost", "subscriber_errors"] {
            assert_eq!(c[zero], 0, "{api} {zero}: {load}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passive_run_that_cannot_know_what_to_watch_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let passive = ["--rate", "0", "--subscribers", "1", "--duration", "1s"];
    for api in ["pulse", "fauna"] {
        let mut args = vec!["--api", api];
        args.extend(passive);
        let (exit, load) = try_load_run(&dir.path().join(api), &args).await;
        assert_eq!(exit, Exit::Usage, "{api}");
        assert!(load.is_none());
    }
    // --stream only means something to passive subscribers.
    let (exit, _) = try_load_run(
        &dir.path().join("active"),
        &[
            "--api",
            "fibric",
            "--rate",
            "5",
            "--subscribers",
            "1",
            "--duration",
            "1s",
            "--stream",
            "x",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Usage);
}
