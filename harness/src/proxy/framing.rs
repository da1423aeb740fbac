//! Following a connection's downstream bytes: HTTP/1.1 response heads, chunked or sized bodies, and the frames inside.
//!
//! The proxy forwards raw bytes, but a schedule speaks of frames ("cut 5
//! bytes into the fourth event"). This scanner decodes just enough of
//! HTTP/1.1 to know which raw bytes are body payload, counts frames in the
//! payload (SSE blocks ended by a blank line, comments included; or lines),
//! and says at which raw byte a cut falls. It never buffers more than a
//! response head.

use super::schedule::CutAt;

/// What a frame is in a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events: a block ended by a blank line.
    Sse,
    /// JSON lines: each `\n`.
    Lines,
    /// No frames: only byte positions mean anything.
    Raw,
}

#[derive(Debug)]
enum State {
    Head,
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailer,
    Sized(u64),
    UntilClose,
}

/// The most a response head may take before the scanner gives up on framing.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
pub struct Scanner {
    framing: Framing,
    state: State,
    head: Vec<u8>,
    chunk_line: Vec<u8>,
    trailer_line_len: usize,
    raw: u64,
    in_body: bool,
    frames: u64,
    payload_since_frame: u64,
    line_len: u64,
    previous: u8,
    /// The last frame ended on a CR whose LF has not come yet.
    frame_ended_on_cr: bool,
    /// Framing was lost (an odd response); frame-based cuts no longer fire.
    pub confused: bool,
}

impl Scanner {
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            state: State::Head,
            head: Vec::new(),
            chunk_line: Vec::new(),
            trailer_line_len: 0,
            raw: 0,
            in_body: false,
            frames: 0,
            payload_since_frame: 0,
            line_len: 0,
            previous: 0,
            frame_ended_on_cr: false,
            confused: false,
        }
    }

    /// Frames completed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn reached(&self, cut: CutAt) -> bool {
        match cut {
            CutAt::Bytes(n) => self.raw >= n,
            CutAt::Frames { frames, plus_bytes } => {
                !self.confused
                    && self.in_body
                    && self.frames == frames
                    && self.payload_since_frame == plus_bytes
            }
        }
    }

    /// Feeds downstream bytes. When `cut` falls inside them, returns how many
    /// of them go out before it (possibly 0); the rest must not be sent.
    pub fn feed(&mut self, bytes: &[u8], cut: Option<CutAt>) -> Option<usize> {
        if let Some(cut) = cut
            && self.reached(cut)
        {
            return Some(0);
        }
        for (offset, byte) in bytes.iter().enumerate() {
            self.step(*byte);
            if let Some(cut) = cut
                && self.reached(cut)
            {
                return Some(offset + 1);
            }
        }
        None
    }

    fn step(&mut self, byte: u8) {
        self.raw += 1;
        match &mut self.state {
            State::Head => {
                self.head.push(byte);
                if self.head.ends_with(b"\r\n\r\n") {
                    self.start_body();
                } else if self.head.len() > MAX_HEAD {
                    self.confused = true;
                    self.state = State::UntilClose;
                }
            }
            State::ChunkSize => {
                self.chunk_line.push(byte);
                if byte == b'\n' {
                    let line = String::from_utf8_lossy(&self.chunk_line).into_owned();
                    let size = line
                        .trim()
                        .split(';')
                        .next()
                        .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
                    self.chunk_line.clear();
                    self.state = match size {
                        Some(0) => State::Trailer,
                        Some(n) => State::ChunkData(n),
                        None => {
                            self.confused = true;
                            State::UntilClose
                        }
                    };
                } else if self.chunk_line.len() > 1024 {
                    self.confused = true;
                    self.state = State::UntilClose;
                }
            }
            State::ChunkData(left) => {
                *left -= 1;
                if *left == 0 {
                    self.state = State::ChunkDataEnd;
                }
                self.payload(byte);
            }
            State::ChunkDataEnd => {
                if byte == b'\n' {
                    self.state = State::ChunkSize;
                }
            }
            State::Trailer => {
                if byte == b'\n' {
                    if self.trailer_line_len == 0 {
                        self.end_response();
                    }
                    self.trailer_line_len = 0;
                } else if byte != b'\r' {
                    self.trailer_line_len += 1;
                }
            }
            State::Sized(left) => {
                *left -= 1;
                let done = *left == 0;
                self.payload(byte);
                if done {
                    self.end_response();
                }
            }
            State::UntilClose => self.payload(byte),
        }
    }

    fn start_body(&mut self) {
        let head = String::from_utf8_lossy(&self.head).to_ascii_lowercase();
        self.head.clear();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let status_line = head.lines().next().unwrap_or("");
        let informational = status_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|s| s.starts_with('1'));
        if informational {
            // 100 Continue and friends: another head follows.
            return;
        }
        self.in_body = true;
        self.frames = 0;
        self.payload_since_frame = 0;
        self.line_len = 0;
        self.state = if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            State::ChunkSize
        } else if let Some(length) = header("content-length:").and_then(|v| v.parse::<u64>().ok()) {
            if length == 0 {
                self.in_body = false;
                State::Head
            } else {
                State::Sized(length)
            }
        } else {
            State::UntilClose
        };
    }

    fn end_response(&mut self) {
        self.in_body = false;
        self.state = State::Head;
    }

    fn payload(&mut self, byte: u8) {
        self.payload_since_frame += 1;
        let previous = std::mem::replace(&mut self.previous, byte);
        match self.framing {
            Framing::Raw => {}
            Framing::Lines => {
                if byte == b'\n' {
                    self.complete_frame();
                }
            }
            Framing::Sse => {
                if byte == b'\n' && previous == b'\r' {
                    // The CR already ended this line; the LF completes the CRLF,
                    // and belongs to the frame the CR ended.
                    if self.frame_ended_on_cr {
                        self.payload_since_frame = 0;
                        self.frame_ended_on_cr = false;
                    }
                    return;
                }
                self.frame_ended_on_cr = false;
                if byte == b'\r' || byte == b'\n' {
                    if self.line_len == 0 {
                        self.complete_frame();
                        self.frame_ended_on_cr = byte == b'\r';
                    }
                    self.line_len = 0;
                } else {
                    self.line_len += 1;
                }
            }
        }
    }

    fn complete_frame(&mut self) {
        self.frames += 1;
        self.payload_since_frame = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

    /// A chunked SSE response: each frame in its own chunk, the second split across two.
    fn response() -> Vec<u8> {
        let mut bytes = HEAD.as_bytes().to_vec();
        for chunk in [
            "id: 1\ndata: a\n\n",
            "id: 2\nda",
            "ta: b\n\n",
            ": keep-alive\n\n",
        ] {
            bytes.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
        }
        bytes
    }

    /// Feeds the response one byte at a time and returns where the cut fell.
    fn cut_offset(cut: CutAt, bytes: &[u8]) -> Option<usize> {
        let mut scanner = Scanner::new(Framing::Sse);
        for (sent, byte) in bytes.iter().enumerate() {
            if let Some(n) = scanner.feed(std::slice::from_ref(byte), Some(cut)) {
                return Some(sent + n);
            }
        }
        None
    }

    #[test]
    fn frame_cuts_fall_on_payload_positions_whatever_the_chunking() {
        let bytes = response();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body_start = HEAD.len();
        // Zero frames, zero bytes: right after the head.
        assert_eq!(
            cut_offset(
                CutAt::Frames {
                    frames: 0,
                    plus_bytes: 0
                },
                &bytes
            ),
            Some(body_start)
        );
        // At the first boundary: just after the blank line of frame 1.
        let first_end = text.find("data: a\n\n").unwrap() + "data: a\n\n".len();
        assert_eq!(
            cut_offset(
                CutAt::Frames {
                    frames: 1,
                    plus_bytes: 0
                },
                &bytes
            ),
            Some(first_end)
        );
        // Seven payload bytes into frame 2 is inside the split chunk: "id: 2\nd" ends it? No: "id: 2\nda" is 8 bytes, so 7 lands on "d".
        let second = text.find("id: 2").unwrap();
        assert_eq!(
            cut_offset(
                CutAt::Frames {
                    frames: 1,
                    plus_bytes: 7
                },
                &bytes
            ),
            Some(second + 7)
        );
        // Frame 2 ends after the second chunk's data, not at the chunk split.
        let second_end = text.find("ta: b\n\n").unwrap() + "ta: b\n\n".len();
        assert_eq!(
            cut_offset(
                CutAt::Frames {
                    frames: 2,
                    plus_bytes: 0
                },
                &bytes
            ),
            Some(second_end)
        );
        // The keep-alive comment is frame 3.
        assert!(
            cut_offset(
                CutAt::Frames {
                    frames: 3,
                    plus_bytes: 0
                },
                &bytes
            )
            .is_some()
        );
        assert_eq!(
            cut_offset(
                CutAt::Frames {
                    frames: 4,
                    plus_bytes: 0
                },
                &bytes
            ),
            None
        );
        assert_eq!(cut_offset(CutAt::Bytes(10), &bytes), Some(10));
    }

    #[test]
    fn crlf_and_cr_line_endings_count_one_frame_per_blank_line() {
        let body = "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
        let bytes = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut scanner = Scanner::new(Framing::Sse);
        scanner.feed(bytes.as_bytes(), None);
        assert_eq!(scanner.frames(), 3);
        // A boundary cut falls right after the CR that ends frame 1's blank
        // line: by the SSE rules a CR alone ends a line, so the frame is complete.
        let at = cut_offset(
            CutAt::Frames {
                frames: 1,
                plus_bytes: 0,
            },
            bytes.as_bytes(),
        )
        .unwrap();
        assert!(bytes[..at].ends_with("data: a\r\n\r"), "{:?}", &bytes[..at]);
        // One byte into frame 2 is its first byte, after the LF.
        let at = cut_offset(
            CutAt::Frames {
                frames: 1,
                plus_bytes: 1,
            },
            bytes.as_bytes(),
        )
        .unwrap();
        assert!(bytes[..at].ends_with("\r\n\r\nd"), "{:?}", &bytes[..at]);
    }

    #[test]
    fn lines_framing_counts_lines() {
        let body = "{\"a\":1}\r\n{\"b\":2}\r\n\n";
        let bytes = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut scanner = Scanner::new(Framing::Lines);
        scanner.feed(bytes.as_bytes(), None);
        assert_eq!(scanner.frames(), 3);
    }
}
