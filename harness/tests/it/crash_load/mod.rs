//! Crash safety under load: SIGKILL the durable server again and again while the load adapter publishes through each API's own write path.
//!
//! Each round starts the durable reference server on one data directory,
//! publishes at a steady pace through `harness::load::adapter` (Actyx
//! `events/publish`, AT Protocol `createRecord`, Fauna FQL `create`), keeps
//! every acknowledgement with the position it names, runs a live subscriber
//! that notes each event's position and its cursor after it, and SIGKILLs the
//! server at a seeded random moment. After the last restart the whole log is
//! read from the start, and every kept cursor resumes; the delivery oracle
//! (`scenarios::delivery`) and a few position rules judge the reads: nothing
//! acknowledged or delivered is lost, no position goes to two events,
//! positions grow across restarts, and a cursor from before a crash yields
//! exactly the events after it.
//!
//! `STREAMCHECK_CRASH_KILLS` sets the kills per API (5 by default, 100 in
//! `reports/crash/run.sh`); `STREAMCHECK_CRASH_SEED` replays a seed.

mod positions;
mod rounds;
mod server;
mod verify;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use scenarios::Api;

use rounds::Settings;
use verify::Summary;

/// Kills per API in CI.
const CI_KILLS: u32 = 5;

fn kills() -> u32 {
    std::env::var("STREAMCHECK_CRASH_KILLS")
        .ok()
        .map(|v| v.parse().expect("STREAMCHECK_CRASH_KILLS is a number"))
        .unwrap_or(CI_KILLS)
}

/// The seed of the kill times: `STREAMCHECK_CRASH_SEED`, or the clock.
fn seed() -> u64 {
    match std::env::var("STREAMCHECK_CRASH_SEED") {
        Ok(v) => v.parse().expect("STREAMCHECK_CRASH_SEED is a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

/// Runs the crash rounds against `api` and prints the numbers the report quotes.
async fn crash(api: Api, kills: u32, defects: &[&'static str]) -> Summary {
    let seed = seed();
    let started = Instant::now();
    let settings = Settings {
        api,
        kills,
        seed,
        defects: defects.to_vec(),
    };
    let record = rounds::run(&settings).await;
    let summary = verify::verify(&record);
    println!(
        "crash_load {api}: seed {seed}, {kills} kills, {} published, {} acknowledged, \
         {} kept unacknowledged, {} lost, {} reused positions, {}/{} cursors resumed, \
         {} violations, {:.1} s",
        record.attempted,
        summary.acknowledged,
        summary.kept_unacknowledged,
        summary.lost,
        summary.reused,
        summary.cursors_resumed,
        summary.cursors,
        summary.violations.len(),
        started.elapsed().as_secs_f64(),
    );
    summary
}

async fn survives(api: Api) {
    let summary = crash(api, kills(), &[]).await;
    let shown: Vec<&str> = summary
        .violations
        .iter()
        .take(30)
        .map(String::as_str)
        .collect();
    assert!(
        summary.violations.is_empty(),
        "{api}: crash safety broken ({} violations):\n{}",
        summary.violations.len(),
        shown.join("\n")
    );
    assert!(summary.acknowledged > 0 && summary.cursors > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actyx_keeps_every_acknowledged_event_through_sigkills() {
    survives(Api::Actyx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atproto_keeps_every_acknowledged_commit_through_sigkills() {
    survives(Api::Atproto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fauna_keeps_every_acknowledged_write_through_sigkills() {
    survives(Api::Fauna).await;
}

/// The same test against the `reuse-seq-after-restart` defect must fail, or
/// it proves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crash_load_test_catches_a_server_that_reuses_positions() {
    let summary = crash(Api::Actyx, 2, &["reuse-seq-after-restart"]).await;
    println!("{}", summary.violations.join("\n"));
    assert!(
        summary.lost > 0 || summary.reused > 0,
        "the defect went unnoticed: {:?}",
        summary.violations
    );
}
