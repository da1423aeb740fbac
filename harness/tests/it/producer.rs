//! `--producer`: against a target that is not a reference server, checks publish through a command speaking JSON lines.

use harness::check::execute;
use harness::report::model::{Report, TargetKind};
use scenarios::Verdict;

use crate::support::config;

/// A producer, as a user would write one: each request line becomes a call to
/// the server's own write path (here the reference server's control API).
const PRODUCER: &str = r#"
import json, sys, urllib.request
base = sys.argv[1]
for line in sys.stdin:
    request = json.loads(line)
    if request["api"] == "fibric" and request["action"] == "append":
        body = json.dumps({"envelopes": [request["envelope"]]}).encode()
        call = urllib.request.Request(base + "/_control/fibric/envelopes", data=body, method="POST",
            headers={"Authorization": "Bearer control_test_token", "Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(call))
        print(json.dumps({"event_id": answer["envelopes"][0]["event_id"]}), flush=True)
    else:
        print(json.dumps({"error": "unsupported request"}), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_publish_through_a_producer_command_and_skip_without_one() {
    let python = testenv::program("python3");
    let server = harness::embedded::start(
        "control_test_token",
        reference_server::defects::Defects::none(),
    )
    .await
    .unwrap();
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("producer.py");
    std::fs::write(&script, PRODUCER).unwrap();
    let producer = format!("{} {} {url}", python.display(), script.display());
    // A wrong control token makes the reference server look like any other server.
    let common = [
        "--target",
        url.as_str(),
        "--control-token",
        "not-the-token",
        "--check-timeout",
        "60s",
        "--checks",
        "fibric/resume/*",
    ];

    let with = dir.path().join("with");
    let mut args = common.to_vec();
    args.extend(["--producer", producer.as_str()]);
    let summary = execute(
        &config(&with, &args),
        &harness::checks::registry(),
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    let report = Report::read(&with.join("report.json")).unwrap();
    assert_eq!(report.target.kind, TargetKind::Other);
    assert_eq!(
        (summary.total, summary.pass),
        (2, 2),
        "{:#?}",
        report.checks
    );

    let without = dir.path().join("without");
    let summary = execute(
        &config(&without, &common),
        &harness::checks::registry(),
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    let report = Report::read(&without.join("report.json")).unwrap();
    assert_eq!(summary.skip, 2);
    for check in &report.checks {
        assert_eq!(check.verdict, Verdict::Skip);
        assert!(
            check.skip_reason.as_deref().unwrap().contains("--producer"),
            "{:?}",
            check.skip_reason
        );
    }
    server.shutdown().await.unwrap();
}
