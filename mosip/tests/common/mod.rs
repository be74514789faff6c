//! What the adapter's tests stand on: a real ActiveMQ broker (`broker/activemq.sh`), a MOSIP
//! stand-in speaking OpenWire JMS (`broker/MosipJmsClient.java`), a datashare on 127.0.0.1
//! serving encrypted CBEFFs (with MOSIP's authenticate endpoint), the `abis-mosip` binary, and
//! registrations made from FVC2002 images and MOSIP's test vector.

#![allow(dead_code)]

mod images;

use abis_mosip::datashare;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// `../shared/data/<rel>`: `None` outside CI when missing; a failure under CI.
pub fn shared(rel: &str) -> Option<PathBuf> {
    abis_test_data::shared_data(rel)
}

/// Whether Debian's ActiveMQ and a JDK are installed; under CI they must be.
pub fn broker_installed() -> bool {
    ["/usr/share/activemq/bin/activemq.jar", "/usr/bin/javac"]
        .into_iter()
        .all(|p| {
            abis_test_data::required(PathBuf::from(p), "run .ci/setup.sh (apt: activemq)").is_some()
        })
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn broker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broker")
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private ActiveMQ broker.
pub struct Broker {
    _process: Process,
    /// OpenWire port.
    pub openwire: u16,
    /// STOMP port.
    pub stomp: u16,
}

impl Broker {
    /// Starts a broker keeping its state in `dir` and waits until STOMP answers.
    pub fn start(dir: &Path) -> Self {
        let (openwire, stomp) = (free_port(), free_port());
        std::fs::create_dir_all(dir).unwrap();
        let child = Command::new("bash")
            .arg(broker_dir().join("activemq.sh"))
            .arg(dir)
            .arg(openwire.to_string())
            .arg(stomp.to_string())
            .stdin(Stdio::null())
            .spawn()
            .expect("bash runs");
        let process = Process(child);
        let started = Instant::now();
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", stomp)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.write_all(b"CONNECT\naccept-version:1.2\nhost:127.0.0.1\n\n\0")
                    .unwrap();
                let mut buffer = [0u8; 9];
                if s.read_exact(&mut buffer).is_ok() && &buffer == b"CONNECTED" {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "ActiveMQ did not start; see {}",
                dir.join("activemq.out").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            _process: process,
            openwire,
            stomp,
        }
    }
}

/// The MOSIP stand-in's classes, compiled once per test process.
fn jms_classes() -> &'static Path {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("abis-mosip-jms-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let status = Command::new("javac")
            .args(["-cp", JMS_CLASSPATH, "-d"])
            .arg(&out)
            .arg(broker_dir().join("MosipJmsClient.java"))
            .status()
            .expect("javac runs");
        assert!(status.success(), "javac failed");
        out
    })
}

const JMS_CLASSPATH: &str = "/usr/share/java/activemq-client.jar:\
/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar:\
/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar";

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JMS TextMessage.
    Text,
    /// JMS BytesMessage.
    Bytes,
}

/// MOSIP's side of the queues: OpenWire JMS, as its registration processor speaks it.
pub struct Mosip {
    _process: Process,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Mosip {
    /// Connects to `broker`'s OpenWire port.
    pub fn connect(broker: &Broker) -> Self {
        let classpath = format!(
            "{}:{JMS_CLASSPATH}:/usr/share/java/slf4j-simple.jar",
            jms_classes().display()
        );
        let mut child = Command::new("java")
            .args([
                "-Xmx64m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
            ])
            .arg(classpath)
            .arg("MosipJmsClient")
            .arg(format!(
                "failover:(tcp://127.0.0.1:{})?timeout=5000&startupMaxReconnectAttempts=5",
                broker.openwire
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("java runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut mosip = Self {
            _process: Process(child),
            stdin,
            stdout,
        };
        assert_eq!(mosip.line(), "ready");
        mosip
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    fn command(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        self.line()
    }

    /// Sends a request to `mosip-to-abis`.
    pub fn send(&mut self, kind: Kind, json: &str) {
        assert!(!json.contains('\n'));
        let word = match kind {
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        };
        let answer = self.command(&format!("send {word} {json}"));
        assert!(answer.starts_with("sent "), "{answer}");
    }

    /// The next reply on `abis-to-mosip`, with its message type; `None` after `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<(Kind, Value)> {
        let answer = self.command(&format!("recv {}", timeout.as_millis()));
        if answer == "none" {
            return None;
        }
        let (kind, body) = answer.split_once(' ').unwrap();
        let kind = match kind {
            "text" => Kind::Text,
            "bytes" => Kind::Bytes,
            other => panic!("a reply of type {other}: {body}"),
        };
        Some((kind, serde_json::from_str(body).unwrap()))
    }

    /// Sends `request` and waits for its reply (any other reply first is a failure).
    pub fn call(&mut self, kind: Kind, request: &Value) -> Value {
        self.send(kind, &request.to_string());
        let (got, reply) = self
            .recv(Duration::from_secs(300))
            .unwrap_or_else(|| panic!("no reply to {request}"));
        assert_eq!(got, kind, "the reply's type differs from the request's");
        assert_eq!(
            reply["requestId"],
            request
                .get("requestId")
                .or_else(|| request.get("requestIdXXX"))
                .cloned()
                .unwrap_or(Value::Null),
            "{reply}"
        );
        reply
    }
}

/// What the datashare serves at a path.
#[derive(Debug, Clone)]
pub enum Share {
    /// An encrypted payload.
    Payload(String),
    /// MOSIP's answer for an expired share (HTTP 200, errors DAT-SER-006).
    Expired,
}

/// A datashare (and MOSIP's authenticate endpoint) on 127.0.0.1.
pub struct Datashare {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shares: Arc<Mutex<HashMap<String, Share>>>,
    gets: Arc<Mutex<HashMap<String, usize>>>,
}

/// The token the authenticate endpoint hands out.
pub const TOKEN: &str = "eyJ0ZXN0IjoidG9rZW4ifQ.abis";

impl Datashare {
    /// Starts serving.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shares: Arc<Mutex<HashMap<String, Share>>> = Arc::default();
        let gets: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (s, g) = (shares.clone(), gets.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, g) = (s.clone(), g.clone());
                std::thread::spawn(move || serve(stream, &s, &g));
            }
        });
        Self { base, shares, gets }
    }

    /// Serves `share` at `/v1/datashare/get/<name>`; its URL.
    pub fn put(&self, name: &str, share: Share) -> String {
        let path = format!("/v1/datashare/get/{name}");
        self.shares.lock().unwrap().insert(path.clone(), share);
        format!("{}{path}", self.base)
    }

    /// GETs of `url` so far.
    pub fn gets(&self, url: &str) -> usize {
        let path = url.strip_prefix(&self.base).unwrap_or(url);
        self.gets.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// The authenticate endpoint's URL.
    pub fn auth_url(&self) -> String {
        format!(
            "{}/v1/authmanager/authenticate/clientidsecretkey",
            self.base
        )
    }
}

fn serve(
    mut stream: TcpStream,
    shares: &Mutex<HashMap<String, Share>>,
    gets: &Mutex<HashMap<String, usize>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read_exact(&mut byte).is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let respond = |stream: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = stream.write_all(body);
    };
    if method == "POST" && path.ends_with("/authenticate/clientidsecretkey") {
        let request: Value = serde_json::from_slice(&body).unwrap_or_default();
        if request["request"]["clientId"] == "mosip-abis-client"
            && request["request"]["secretKey"] == "abis-secret"
        {
            respond(
                &mut stream,
                "200 OK",
                &format!("Set-Cookie: Authorization={TOKEN}; Path=/; HttpOnly\r\n"),
                br#"{"response":{"status":"Success"},"errors":null}"#,
            );
        } else {
            respond(&mut stream, "401 Unauthorized", "", b"{}");
        }
        return;
    }
    let authorised =
        header("cookie").is_some_and(|c| c.contains(&format!("Authorization={TOKEN}")));
    if !authorised {
        respond(&mut stream, "401 Unauthorized", "", b"");
        return;
    }
    *gets.lock().unwrap().entry(path.to_owned()).or_default() += 1;
    match shares.lock().unwrap().get(path).cloned() {
        Some(Share::Payload(text)) => respond(&mut stream, "200 OK", "", text.as_bytes()),
        Some(Share::Expired) => respond(
            &mut stream,
            "200 OK",
            "Content-Type: application/json\r\n",
            br#"{"id":"mosip.data.share","errors":[{"errorCode":"DAT-SER-006","message":"Data share usuage expired"}]}"#,
        ),
        None => respond(&mut stream, "404 Not Found", "", b""),
    }
}

/// `xml` encrypted for the ABIS.
pub fn encrypt(xml: &[u8]) -> String {
    datashare::encrypt(xml, &abis_key()).unwrap()
}

/// A running `abis-mosip`.
pub struct Adapter {
    /// The process.
    pub process: Process,
    /// Its stderr log.
    pub log: PathBuf,
}

/// Starts `abis-mosip` on `data` against `broker` and the datashare's auth, and waits until it
/// consumes.
pub fn start_adapter(data: &Path, broker: &Broker, share: &Datashare) -> Adapter {
    std::fs::create_dir_all(data).unwrap();
    let secrets = data.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("p12-password"), "password\n").unwrap();
    std::fs::write(secrets.join("secret-key"), "abis-secret\n").unwrap();
    let log = data.join(format!("adapter-{}.log", free_port()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_abis-mosip"))
        .arg("--data")
        .arg(data)
        .arg("--broker")
        .arg(format!("127.0.0.1:{}", broker.stomp))
        .arg("--key-store")
        .arg(shared("mosip/cbeff.p12").unwrap())
        .arg("--key-store-password-file")
        .arg(secrets.join("p12-password"))
        .args(["--key-alias", "cbeff", "--auth-url"])
        .arg(share.auth_url())
        .args(["--client-id", "mosip-abis-client", "--secret-key-file"])
        .arg(secrets.join("secret-key"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("abis-mosip runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains("consuming /queue/mosip-to-abis"),
        "abis-mosip did not start: {line:?}; log: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Adapter {
        process: Process(child),
        log,
    }
}

/// A MOSIP request of operation `op` (`insert`, `identify`, ...).
pub fn request(op: &str, request_id: &str) -> Value {
    serde_json::json!({
        "id": format!("mosip.abis.{op}"),
        "version": "1.1",
        "requestId": request_id,
        "requesttime": abis_mosip::request::now(),
    })
}

/// An Insert of `reference_id` from `url`.
pub fn insert(request_id: &str, reference_id: &str, url: &str) -> Value {
    let mut r = request("insert", request_id);
    r["referenceId"] = reference_id.into();
    r["referenceURL"] = url.into();
    r
}

/// An Identify of `reference_id` as MOSIP sends it, against `gallery` (`None`: all).
pub fn identify(request_id: &str, reference_id: &str, gallery: Option<&[&str]>) -> Value {
    let mut r = request("identify", request_id);
    r["referenceId"] = reference_id.into();
    r["referenceUrl"] = "".into();
    r["flags"] = serde_json::json!({"maxResults": "30", "targetFPIR": "30"});
    r["gallery"] = match gallery {
        None => Value::Null,
        Some(ids) => serde_json::json!({
            "referenceIds": ids.iter().map(|i| serde_json::json!({"referenceId": i})).collect::<Vec<_>>()
        }),
    };
    r
}

/// The candidates' reference ids of an Identify reply.
pub fn candidates(reply: &Value) -> Vec<String> {
    reply["candidateList"]["candidates"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["referenceId"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub use images::*;
