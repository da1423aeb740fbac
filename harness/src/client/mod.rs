//! One client per API, without I/O: the paths, request bodies and answers that check drivers, snapshot scripts and the load adapter share.
//!
//! Each module holds what every caller needs to reach its API: the paths,
//! the bodies of logins, account creation, writes and stream requests, how
//! to read the answers that carry a token, an account or a position, and the
//! position a stream resumes from. Nothing here sends anything: the check
//! drivers and the snapshot scripts send these requests through their
//! recorders, the load adapter sends them bare. So an API's login, account
//! creation and resume position are written here and nowhere else.

pub mod actyx;
pub mod atproto;
pub mod fauna;
pub mod fibric;
pub mod pulse;

/// The WebSocket URL of an HTTP one: `http://` becomes `ws://`, `https://` `wss://`.
pub fn ws_url(http: &str) -> String {
    if let Some(rest) = http.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_swaps_the_scheme_only() {
        assert_eq!(ws_url("http://127.0.0.1:80/x"), "ws://127.0.0.1:80/x");
        assert_eq!(ws_url("https://pds.test/http://"), "wss://pds.test/http://");
    }
}
