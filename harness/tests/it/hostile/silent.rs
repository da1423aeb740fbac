//! Servers that accept connections and never answer: not even the probe, or nothing but the probe.

use super::server::{self, Request};

const CONTENT_TYPE: &str = "fibric/wire/content-type";
const NO_STORE: &str = "fibric/wire/no-store";
const KEEP_ALIVE: &str = "fibric/wire/keep-alive";

fn args() -> Vec<&'static str> {
    vec![
        "--api",
        "fibric",
        "--checks",
        CONTENT_TYPE,
        "--checks",
        NO_STORE,
        "--checks",
        KEEP_ALIVE,
    ]
}

/// Nothing ever answers, not even the probe: the target could not be
/// reached (exit 3), said within the probe's 10 s, and no check runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_unreachable() {
    let base = server::serve_silence().await;
    let run = super::check(&base, &args()).await;
    eprintln!(
        "{:?} in {:.1} s, peak {} KiB\n{}",
        run.code,
        run.elapsed.as_secs_f64(),
        run.peak_kib,
        run.stderr
    );
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert!(run.elapsed < super::TIME_BOUND, "{run:#?}");
    assert!(run.peak_kib > super::MIN_SEEN_KIB && run.peak_kib < super::MEMORY_BOUND_KIB);
    assert!(
        run.stderr
            .contains("could not be reached: no response to GET /_control/info within 10s"),
        "{run:#?}"
    );
    assert!(run.report.is_none(), "{run:#?}");
}

/// The probe gets a 404, as from any server that is not a reference
/// server; every other request is accepted and never answered. Each check
/// finds that the stream did not open in time, and the run goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_answers_only_the_probe_fails_every_check() {
    let base = server::serve(|request: Request, socket| async move {
        if request.is("GET", "/_control/") {
            return server::not_found(socket).await;
        }
        let _held = socket;
        std::future::pending::<std::io::Result<()>>().await
    })
    .await;
    let run = super::check(&base, &args()).await;
    let silent = "the stream did not open: no response head within 5s";
    run.assert(
        1,
        &[
            (CONTENT_TYPE, "fail"),
            (NO_STORE, "non-strict"),
            (KEEP_ALIVE, "fail"),
        ],
        &[
            (CONTENT_TYPE, silent),
            (NO_STORE, silent),
            (KEEP_ALIVE, silent),
        ],
    );
}
