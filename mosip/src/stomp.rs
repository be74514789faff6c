//! A STOMP 1.2 client, as much as the adapter needs: CONNECT, an exclusive client-acknowledged
//! SUBSCRIBE, and replies sent and the request acknowledged in one broker transaction
//! (BEGIN, SEND, ACK, COMMIT with a receipt), so a request is answered exactly once even if the
//! adapter dies between the two.
//!
//! Our own codec rather than a crate: the published STOMP crates are unmaintained or tied to
//! other runtimes, and the protocol subset is small (a frame is a command line, `key:value`
//! header lines, a blank line, a body and a NUL). Frames are read with a size limit: a larger
//! body is read to its end and dropped, so a hostile message is answered, not fatal.
//!
//! Wire facts (ActiveMQ 5.17): a JMS BytesMessage arrives with `content-length`, a TextMessage
//! without; a frame sent without `content-length` becomes a TextMessage, with it a
//! BytesMessage. The JMS expiry arrives as `expires` (ms since the epoch, 0: never).

use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The largest header block read.
const MAX_HEADERS: usize = 64 << 10;

/// A STOMP failure.
#[derive(Debug, thiserror::Error)]
pub enum StompError {
    /// The connection failed or closed.
    #[error("broker connection: {0}")]
    Io(#[from] std::io::Error),
    /// The broker sent something that is not STOMP 1.2.
    #[error("broker protocol: {0}")]
    Protocol(String),
    /// The broker answered ERROR.
    #[error("broker error: {0}")]
    Broker(String),
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `CONNECTED`, `MESSAGE`, `RECEIPT`, `ERROR`, ...
    pub command: String,
    /// Headers in order (the first of a repeated header wins, as STOMP 1.2 says).
    pub headers: Vec<(String, String)>,
    /// The body (empty when it was over the limit: see `oversized`).
    pub body: Vec<u8>,
    /// The body's size when it was over the limit and dropped.
    pub oversized: Option<usize>,
}

impl Frame {
    /// A frame to send.
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            oversized: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.push((key.to_owned(), value.into()));
        self
    }

    /// The first value of header `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        out.extend_from_slice(self.command.as_bytes());
        out.push(b'\n');
        // CONNECT's headers are not escaped (STOMP 1.2); the adapter's never need it there.
        for (k, v) in &self.headers {
            out.extend_from_slice(escape(k).as_bytes());
            out.push(b':');
            out.extend_from_slice(escape(v).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
        out
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ':' => out.push_str("\\c"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, StompError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('c') => out.push(':'),
            other => {
                return Err(StompError::Protocol(format!(
                    "undefined header escape \\{}",
                    other.map(String::from).unwrap_or_default()
                )))
            }
        }
    }
    Ok(out)
}

/// The heart-beat interval the adapter offers and asks for, both ways.
pub const HEART_BEAT: Duration = Duration::from_secs(10);

/// Heart-beats agreed at CONNECT (STOMP 1.2 section "Heart-beating").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartBeats {
    /// How often we must send something (`None`: never).
    pub send: Option<Duration>,
    /// How often the broker sends something (`None`: it does not promise to).
    pub expect: Option<Duration>,
}

impl HeartBeats {
    /// What a client offering `ours` (cx, cy) agrees with a broker answering `theirs`
    /// (`sx,sy` in milliseconds): each side beats at the slower of what one offers and the
    /// other asks, and not at all when either says 0.
    pub fn agree(ours: (Duration, Duration), theirs: Option<&str>) -> Self {
        let (sx, sy) = theirs
            .and_then(|h| h.split_once(','))
            .and_then(|(x, y)| Some((x.trim().parse::<u64>().ok()?, y.trim().parse::<u64>().ok()?)))
            .unwrap_or((0, 0));
        let either =
            |a: Duration, b: u64| (!a.is_zero() && b != 0).then(|| a.max(Duration::from_millis(b)));
        Self {
            send: either(ours.0, sy),
            expect: either(ours.1, sx),
        }
    }
}

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    inner: BufReader<R>,
    max_body: usize,
    /// Silence after which the peer is taken for gone (heart-beats or frames reset it).
    idle_limit: Option<Duration>,
}

impl<R: tokio::io::AsyncRead + Unpin> FrameReader<R> {
    /// Frames from `inner`, bodies over `max_body` dropped.
    pub fn new(inner: R, max_body: usize) -> Self {
        Self {
            inner: BufReader::new(inner),
            max_body,
            idle_limit: None,
        }
    }

    /// Fails a read that waits longer than `limit` for a byte (`None`: waits for ever).
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.idle_limit = limit;
    }

    /// One line (up to `\n`, at most [`MAX_HEADERS`] bytes) into `line`, within the idle limit.
    async fn line(&mut self, line: &mut Vec<u8>) -> Result<usize, StompError> {
        let limit = self.idle_limit;
        let mut take = (&mut self.inner).take(MAX_HEADERS as u64);
        let read = take.read_until(b'\n', line);
        match limit {
            None => Ok(read.await?),
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| StompError::Protocol(format!("nothing from the peer for {limit:?}")))?
                .map_err(StompError::from),
        }
    }

    /// The next frame (heart-beat newlines skipped); `None` at a clean end of stream.
    pub async fn next(&mut self) -> Result<Option<Frame>, StompError> {
        let mut line = Vec::new();
        // The command line, after any heart-beat EOLs.
        loop {
            line.clear();
            let n = self.line(&mut line).await?;
            if n == 0 {
                return Ok(None);
            }
            if line.last() != Some(&b'\n') {
                return Err(StompError::Protocol(
                    "a command line without its end".into(),
                ));
            }
            if trim_eol(&line).is_empty() {
                continue;
            }
            break;
        }
        // STOMP commands are upper-case words; anything else (a stray carriage return, binary
        // noise) is not a frame, and taking it for one would misread what follows.
        let command = trim_eol(&line);
        if !command.iter().all(u8::is_ascii_uppercase) {
            return Err(StompError::Protocol(format!(
                "{:?} is not a STOMP command",
                String::from_utf8_lossy(command)
            )));
        }
        let command = String::from_utf8(command.to_vec()).expect("ASCII");
        let mut headers = Vec::new();
        let mut header_bytes = 0;
        loop {
            line.clear();
            let n = self.line(&mut line).await?;
            header_bytes += n;
            if n == 0 || line.last() != Some(&b'\n') || header_bytes > MAX_HEADERS {
                return Err(StompError::Protocol("headers without their end".into()));
            }
            let text = trim_eol(&line);
            if text.is_empty() {
                break;
            }
            let text = std::str::from_utf8(text)
                .map_err(|_| StompError::Protocol("a header that is not UTF-8".into()))?;
            let (k, v) = text
                .split_once(':')
                .ok_or_else(|| StompError::Protocol(format!("header {text:?} without ':'")))?;
            headers.push((unescape(k)?, unescape(v)?));
        }
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| StompError::Protocol(format!("content-length {v:?}")))
            })
            .transpose()?;
        let mut body = Vec::new();
        let mut oversized = None;
        match length {
            Some(n) => {
                if n > self.max_body {
                    let skipped = tokio::io::copy(
                        &mut (&mut self.inner).take(n as u64),
                        &mut tokio::io::sink(),
                    )
                    .await?;
                    if skipped != n as u64 {
                        return Err(StompError::Protocol("a body cut short".into()));
                    }
                    oversized = Some(n);
                } else {
                    body.resize(n, 0);
                    self.inner.read_exact(&mut body).await?;
                }
                let mut nul = [0u8];
                self.inner.read_exact(&mut nul).await?;
                if nul[0] != 0 {
                    return Err(StompError::Protocol("a body not ended by NUL".into()));
                }
            }
            None => {
                // Up to the NUL, keeping at most `max_body` bytes.
                let mut total = 0usize;
                loop {
                    let buffer = self.inner.fill_buf().await?;
                    if buffer.is_empty() {
                        return Err(StompError::Protocol("a body without its NUL".into()));
                    }
                    let (chunk, done) = match buffer.iter().position(|&b| b == 0) {
                        Some(at) => (&buffer[..at], true),
                        None => (buffer, false),
                    };
                    total += chunk.len();
                    if total <= self.max_body {
                        body.extend_from_slice(chunk);
                    }
                    let consumed = chunk.len() + usize::from(done);
                    self.inner.consume(consumed);
                    if done {
                        break;
                    }
                }
                if total > self.max_body {
                    body = Vec::new();
                    oversized = Some(total);
                }
            }
        }
        Ok(Some(Frame {
            command,
            headers,
            body,
            oversized,
        }))
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `host:port` of the broker's STOMP connector.
    pub address: String,
    /// Login, if the broker wants one.
    pub login: Option<String>,
    /// Passcode.
    pub passcode: Option<String>,
    /// The virtual host (`host` header).
    pub host: String,
}

/// A connected session, split: frames come in on `reader`, go out through `writer`.
pub struct Session {
    /// Incoming frames (failing after three missed broker heart-beats).
    pub reader: FrameReader<OwnedReadHalf>,
    /// Outgoing frames.
    pub writer: Writer,
    /// What was agreed: `writer` must [`Writer::beat`] every `heart_beats.send`.
    pub heart_beats: HeartBeats,
}

/// The sending half of a session.
pub struct Writer {
    inner: OwnedWriteHalf,
}

impl Writer {
    /// Sends one frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<(), StompError> {
        self.inner.write_all(&frame.encode()).await?;
        self.inner.flush().await?;
        Ok(())
    }

    /// Sends a heart-beat (an end of line).
    pub async fn beat(&mut self) -> Result<(), StompError> {
        self.inner.write_all(b"\n").await?;
        self.inner.flush().await?;
        Ok(())
    }
}

/// Connects and waits for CONNECTED.
pub async fn connect(options: &ConnectOptions, max_body: usize) -> Result<Session, StompError> {
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        TcpStream::connect(&options.address),
    )
    .await
    .map_err(|_| StompError::Io(std::io::ErrorKind::TimedOut.into()))??;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut session = Session {
        reader: FrameReader::new(read, max_body),
        writer: Writer { inner: write },
        heart_beats: HeartBeats::default(),
    };
    let offer = HEART_BEAT.as_millis();
    let mut connect = Frame::new("CONNECT")
        .header("accept-version", "1.2")
        .header("host", options.host.clone())
        .header("heart-beat", format!("{offer},{offer}"));
    if let Some(login) = &options.login {
        connect = connect.header("login", login.clone());
    }
    if let Some(passcode) = &options.passcode {
        connect = connect.header("passcode", passcode.clone());
    }
    session.writer.send(&connect).await?;
    let reply = tokio::time::timeout(Duration::from_secs(10), session.reader.next())
        .await
        .map_err(|_| StompError::Protocol("no CONNECTED within 10 s".into()))??
        .ok_or_else(|| StompError::Protocol("closed before CONNECTED".into()))?;
    match reply.command.as_str() {
        "CONNECTED" => {
            session.heart_beats =
                HeartBeats::agree((HEART_BEAT, HEART_BEAT), reply.get("heart-beat"));
            // The broker may be a little late: three missed beats, not one, end the session.
            session
                .reader
                .set_idle_limit(session.heart_beats.expect.map(|e| e * 3));
            Ok(session)
        }
        "ERROR" => Err(StompError::Broker(error_text(&reply))),
        other => Err(StompError::Protocol(format!(
            "{other} instead of CONNECTED"
        ))),
    }
}

/// An ERROR frame's message and body, for the log.
pub fn error_text(frame: &Frame) -> String {
    format!(
        "{} {}",
        frame.get("message").unwrap_or_default(),
        String::from_utf8_lossy(&frame.body)
    )
    .trim()
    .to_owned()
}

/// Pending receipts: who waits for which id.
#[derive(Default)]
pub struct Receipts {
    waiting: HashMap<String, tokio::sync::oneshot::Sender<()>>,
}

impl Receipts {
    /// Registers a wait for `id`.
    pub fn expect(&mut self, id: String) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.waiting.insert(id, tx);
        rx
    }

    /// Wakes whoever waits for `id`.
    pub fn arrived(&mut self, id: &str) {
        if let Some(tx) = self.waiting.remove(id) {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(bytes: &[u8], max_body: usize) -> Vec<Result<Frame, String>> {
        let mut reader = FrameReader::new(bytes, max_body);
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn frames_round_trip_with_and_without_length() {
        let text = Frame::new("SEND")
            .header("destination", "/queue/a:b")
            .header("x", "line\nbreak\\");
        let mut bytes = Frame {
            body: b"{\"a\":1}".to_vec(),
            ..text.clone()
        }
        .encode();
        bytes.extend_from_slice(b"\n\r\n");
        let bytes_msg = Frame {
            body: b"bin\0ary".to_vec(),
            ..Frame::new("MESSAGE").header("content-length", "7")
        };
        bytes.extend_from_slice(&bytes_msg.encode());
        let got = frames(&bytes, 1024).await;
        assert_eq!(got.len(), 2);
        let first = got[0].as_ref().unwrap();
        assert_eq!(first.get("destination"), Some("/queue/a:b"));
        assert_eq!(first.get("x"), Some("line\nbreak\\"));
        assert_eq!(first.body, b"{\"a\":1}");
        assert_eq!(got[1].as_ref().unwrap().body, b"bin\0ary");
    }

    #[tokio::test]
    async fn oversized_bodies_are_dropped_and_reading_goes_on() {
        let mut bytes = Frame {
            body: vec![b'x'; 100],
            ..Frame::new("MESSAGE")
        }
        .encode();
        bytes.extend_from_slice(
            &Frame {
                body: vec![b'y'; 100],
                ..Frame::new("MESSAGE").header("content-length", "100")
            }
            .encode(),
        );
        bytes.extend_from_slice(&Frame::new("RECEIPT").header("receipt-id", "1").encode());
        let got = frames(&bytes, 10).await;
        assert_eq!(got.len(), 3);
        for f in &got[..2] {
            let f = f.as_ref().unwrap();
            assert_eq!((f.oversized, f.body.len()), (Some(100), 0));
        }
        assert_eq!(got[2].as_ref().unwrap().get("receipt-id"), Some("1"));
    }

    #[tokio::test]
    async fn broken_frames_are_protocol_errors() {
        for bad in [
            &b"MESSAGE\nno-colon\n\n\0"[..],
            b"MESSAGE\ncontent-length:zz\n\n\0",
            b"MESSAGE\ncontent-length:3\n\nabcd",
            b"MESSAGE\nk:\\x\n\n\0",
            b"MESSAGE\n\nbody without nul",
            // Found by fuzzing: a carriage return alone was read as a command.
            b"\r\r\nr\x10delivered:true\n\nby\0",
            b"MESSA GE\n\n\0",
        ] {
            let got = frames(bad, 1024).await;
            assert!(
                got.last().unwrap().is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// Seeded mutations of a stream of frames: each is read, or the stream ends in a protocol
    /// error; none panics or reads a body over the limit.
    #[tokio::test]
    async fn mutated_frames_never_panic() {
        let mut stream = Frame {
            body: b"{\"id\":\"mosip.abis.ping\"}".to_vec(),
            ..Frame::new("MESSAGE")
                .header("destination", "/queue/mosip-to-abis")
                .header("ack", "ID\\cvm-1")
        }
        .encode();
        stream.extend_from_slice(
            &Frame {
                body: b"bytes".to_vec(),
                ..Frame::new("MESSAGE").header("content-length", "5")
            }
            .encode(),
        );
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        for _ in 0..3_000 {
            let mut bytes = stream.clone();
            for _ in 0..1 + next(3) {
                if bytes.is_empty() {
                    break;
                }
                let at = next(bytes.len());
                match next(3) {
                    0 => {
                        let alphabet = b"\0\n:\\c9";
                        bytes[at] = alphabet[next(alphabet.len())];
                    }
                    1 => bytes[at] = next(256) as u8,
                    _ => bytes.truncate(at),
                }
            }
            for frame in frames(&bytes, 16).await.into_iter().flatten() {
                assert!(frame.body.len() <= 16);
            }
        }
    }

    #[test]
    fn heart_beats_are_agreed_as_stomp_says() {
        let ten = Duration::from_secs(10);
        let ms = Duration::from_millis;
        assert_eq!(
            HeartBeats::agree((ten, ten), Some("0,0")),
            HeartBeats::default()
        );
        assert_eq!(
            HeartBeats::agree((ten, ten), Some("5000,30000")),
            HeartBeats {
                send: Some(ms(30_000)),
                expect: Some(ten)
            }
        );
        assert_eq!(HeartBeats::agree((ten, ten), None), HeartBeats::default());
        assert_eq!(
            HeartBeats::agree((Duration::ZERO, ten), Some("20000,1000")),
            HeartBeats {
                send: None,
                expect: Some(ms(20_000))
            }
        );
    }

    #[tokio::test]
    async fn a_silent_peer_is_an_error_and_beats_keep_it_alive() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(client, 1024);
        reader.set_idle_limit(Some(Duration::from_millis(200)));
        let beating = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                server.write_all(b"\n").await.unwrap();
            }
            server
                .write_all(b"RECEIPT\nreceipt-id:7\n\n\0")
                .await
                .unwrap();
            server
        });
        let frame = reader.next().await.unwrap().unwrap();
        assert_eq!(frame.get("receipt-id"), Some("7"));
        let _server = beating.await.unwrap();
        let silent = reader.next().await.unwrap_err();
        assert!(
            silent.to_string().contains("nothing from the peer"),
            "{silent}"
        );
    }
}
