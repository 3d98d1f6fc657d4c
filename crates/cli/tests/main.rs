//! The `rampart` binary end to end: crash safety under SIGKILL, card numbers never reaching
//! disk or logs, and the data-directory key checks.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod alerts;
mod issue_11;
mod sim;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_model::Query;
use rampart_store::EventStore;
use rampart_store::{SearchRequest, SqliteOptions, SqliteStore};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

fn rampart(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("RUST_LOG").output().expect("run rampart")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path, port: u16, log: &Path) -> Server {
        Server::start_with(dir, port, log, &[])
    }

    fn start_with(dir: &Path, port: u16, log: &Path, env: &[(&str, &str)]) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().copied())
            .current_dir(dir)
            .env("RUST_LOG", "debug")
            // Tests run side by side: each server takes its own syslog ports.
            .env("RAMPART_SYSLOG__UDP", "127.0.0.1:0")
            .env("RAMPART_SYSLOG__TCP", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{url}/healthz")).call().is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, url }
    }

    fn post(&self, token: &str, content_type: &str, encoding: Option<&str>, body: &[u8]) -> Result<u16, String> {
        let mut request = ureq::post(&format!("{}/v1/events", self.url))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .config()
            .http_status_as_error(false)
            .build();
        if let Some(encoding) = encoding {
            request = request.header("Content-Encoding", encoding);
        }
        request.send(body).map(|r| r.status().as_u16()).map_err(|e| e.to_string())
    }

    fn stop(mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A data directory with a config and an ingest token.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    assert!(rampart(dir.path(), &["init"]).status.success());
    let out = rampart(dir.path(), &["token", "create", "--name", "sender", "--role", "ingest"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("rmp_") && token.len() == 68, "stdout must hold only the token: {token:?}");
    (dir, token)
}

fn stored_ids(data: &Path) -> HashMap<String, usize> {
    let store = SqliteStore::open(&data.join("rampart.db"), SqliteOptions::default()).unwrap();
    let mut request = SearchRequest::new(Query::default());
    request.limit = 1000;
    let mut counts = HashMap::new();
    loop {
        let page = store.search(&request).unwrap();
        for event in &page.items {
            *counts.entry(event.id().to_owned()).or_insert(0) += 1;
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return counts,
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_event_and_retries_store_none_twice() {
    let (dir, token) = setup();
    let port = free_port();
    let log = dir.path().join("serve.log");
    let server = Server::start(dir.path(), port, &log);
    let url = server.url.clone();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let unacked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (acked, unacked, stop, token, url) = (acked.clone(), unacked.clone(), stop.clone(), token.clone(), url.clone());
            std::thread::spawn(move || {
                let server = Server { child: Command::new("true").spawn().unwrap(), url };
                let mut batch_no = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body: String =
                        (0..50).map(|i| format!("{{\"event.id\":\"c{c}-b{batch_no}-{i}\",\"event.action\":\"login\"}}\n")).collect();
                    match server.post(&token, "application/x-ndjson", None, body.as_bytes()) {
                        Ok(202) => acked.lock().unwrap().insert(format!("c{c}-b{batch_no}")),
                        _ => {
                            unacked.lock().unwrap().push(body);
                            break;
                        }
                    };
                    batch_no += 1;
                }
            })
        })
        .collect();
    // Kill once enough batches are acknowledged, however slow the machine is.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() <= 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "too few batches were sent before the kill: {}", acked.len());

    // Restart and resend what was in flight: stored before the kill or not, once only.
    let server = Server::start(dir.path(), port, &log);
    let resent = unacked.lock().unwrap().clone();
    for body in &resent {
        assert_eq!(server.post(&token, "application/x-ndjson", None, body.as_bytes()), Ok(202));
    }
    server.stop();

    let counts = stored_ids(&dir.path().join("data"));
    for batch in &acked {
        for i in 0..50 {
            assert_eq!(counts.get(&format!("{batch}-{i}")), Some(&1), "{batch}-{i}");
        }
    }
    assert!(counts.values().all(|n| *n == 1), "an event was stored twice");
    assert_eq!(counts.len(), (acked.len() + resent.len()) * 50);
}

/// Published test card numbers of the major schemes (Visa, Mastercard, Amex, Discover, JCB, and
/// a 19-digit Visa).
const PANS: &[&str] = &[
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "4012888888881881",
    "4111111111111111003",
];

/// How a sender might write a card number in text: plain, grouped by spaces or dashes, groups
/// joined by `+` or `%20` (URL-encoded), every digit percent-encoded, the first one encoded.
fn spellings(pan: &str) -> Vec<String> {
    let groups: Vec<String> = pan.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let encoded: String = pan.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        pan.to_owned(),
        groups.join(" "),
        groups.join("-"),
        groups.join("+"),
        groups.join("%20"),
        encoded,
        format!("%3{}{}", &pan[..1], &pan[1..]),
    ]
}

/// Spellings without a space, as a syslog header field can carry them.
fn header_spellings(pan: &str) -> Vec<String> {
    spellings(pan).into_iter().filter(|s| !s.contains(' ')).collect()
}

/// How a JSON number can write a card number, none of them a plain integer.
fn number_forms(pan: &str) -> Vec<String> {
    vec![format!("{pan}.0"), format!("-{pan}"), format!("{}.{}e{}", &pan[..1], &pan[1..], pan.len() - 1)]
}

/// `$time_local` of now, for live access lines.
fn time_local_now() -> String {
    let format = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    time::OffsetDateTime::now_utc().format(&format).unwrap()
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The addresses the server's syslog listeners bound (UDP, TCP), from its log.
fn syslog_addresses(log: &Path) -> (String, String) {
    let text = std::fs::read_to_string(log).unwrap();
    let line = text.lines().find(|l| l.contains("syslog listening")).expect("syslog is listening");
    let addresses: Vec<String> = line
        .split("Some(")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':')).collect())
        .collect();
    (addresses[0].clone(), addresses[1].clone())
}

fn post_to(server: &Server, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> u16 {
    let mut request =
        ureq::post(&format!("{}{path}", server.url)).header("Content-Type", content_type).config().http_status_as_error(false).build();
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    request.send(body).unwrap().status().as_u16()
}

fn wait_for_count(server: &Server, token: &str, query: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while search_count(server, token, query) < n {
        assert!(Instant::now() < deadline, "expected {n} events for {query}, have {}", search_count(server, token, query));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 11: the test cards in every shape (text spellings, JSON numbers that are not plain
/// integers, URL-encoded forms, syslog header fields) over every intake (HTTP events,
/// `/v1/logs`, syslog UDP and TCP, CSP reports, replay, follow); then no spelling of any of them
/// is in the data directory or in the debug-level logs, byte for byte.
#[test]
fn card_numbers_never_reach_the_data_directory_or_the_log() {
    let (dir, token) = setup();
    let out = rampart(dir.path(), &["token", "create", "--name", "reader", "--role", "analyst"]);
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let log = dir.path().join("serve.log");
    let server = Server::start(dir.path(), free_port(), &log);
    let mut n = 0;
    for pan in PANS {
        for written in spellings(pan) {
            let digits = pan;
            let records = [
                format!("{{\"event.id\":\"p{n}a\",\"note\":\"card {written} thanks\"}}"),
                format!("{{\"event.id\":\"p{n}b\",\"url.original\":\"/pay?card={written}&x=1\",\"url.query\":\"card={written}\"}}"),
                format!("{{\"event.id\":\"p{n}c\",\"event.original\":\"POST /pay card={written}\"}}"),
                format!("{{\"event\":{{\"id\":\"p{n}d\"}},\"payment\":{{\"card\":{{\"number\":{digits}}}}}}}"),
                format!("{{\"event.id\":\"p{n}e\",\"{written}\":\"as a key\",\"user_agent.original\":\"UA {written}\"}}"),
                format!("{{\"event.id\":\"p{n}f\",\"tags\":[\"{written}\"],\"deep\":{{\"er\":[{{\"x\":\"{written}\"}}]}}}}"),
                // Refused records must not leak either (bad IP, bad status code).
                format!("{{\"event.id\":\"p{n}g\",\"source.ip\":\"{written}\"}}"),
                format!("{{\"event.id\":\"p{n}h\",\"http.response.status_code\":\"{written}\"}}"),
            ];
            let ndjson = records.join("\n");
            assert_eq!(server.post(&token, "application/x-ndjson", None, ndjson.as_bytes()), Ok(202));
            let array = format!("[{}]", records.join(",")).replace(&format!("p{n}"), &format!("q{n}"));
            assert_eq!(server.post(&token, "application/json", None, array.as_bytes()), Ok(202));
            let object = records[0].replace(&format!("p{n}"), &format!("r{n}"));
            assert_eq!(server.post(&token, "application/json", None, object.as_bytes()), Ok(202));
            let zipped = gzip(ndjson.replace(&format!("p{n}"), &format!("z{n}")).as_bytes());
            assert_eq!(server.post(&token, "application/x-ndjson", Some("gzip"), &zipped), Ok(202));
            // A body that is refused whole.
            assert_eq!(server.post(&token, "application/json", None, format!("{{\"broken\": \"{written}\"").as_bytes()), Ok(400));
            n += 1;
        }
        // JSON numbers that are not plain integers, as events and as nginx-json lines.
        let mut events = Vec::new();
        let mut nginx = Vec::new();
        for (k, form) in number_forms(pan).iter().enumerate() {
            events
                .push(format!("{{\"event.id\":\"j{n}-{k}\",\"payment\":{{\"card\":{{\"number\":{form}}}}},\"n\":{form},\"l\":[{form}]}}"));
            nginx.push(format!(
                "{{\"time_iso8601\":\"{}\",\"remote_addr\":\"203.0.113.9\",\"request\":\"GET /json HTTP/1.1\",\"status\":200,\"card\":{form}}}",
                rfc3339_now()
            ));
        }
        let events = events.join("\n");
        assert_eq!(server.post(&token, "application/x-ndjson", None, events.as_bytes()), Ok(202));
        assert_eq!(post_to(&server, "/v1/logs/ndjson", Some(&token), "text/plain", events.replace("\"j", "\"k").as_bytes()), 202);
        assert_eq!(post_to(&server, "/v1/logs/nginx-json", Some(&token), "text/plain", nginx.join("\n").as_bytes()), 202);
        // Access lines with the card in the URL, the referrer and the user agent.
        let lines: Vec<String> = spellings(pan)
            .iter()
            .map(|w| {
                format!(
                    "203.0.113.8 - - [{}] \"GET /logs?card={w}&x=1 HTTP/1.1\" 200 1 \"https://shop.example/?c={w}\" \"UA {w}\"",
                    time_local_now()
                )
            })
            .collect();
        assert_eq!(post_to(&server, "/v1/logs/combined", Some(&token), "text/plain", lines.join("\n").as_bytes()), 202);
        // CSP reports with the card in URLs and as numbers.
        let reports: Vec<String> = spellings(pan)
            .iter()
            .map(|w| format!("\"https://shop.example/pay?card={w}\""))
            .chain(number_forms(pan))
            .map(|value| {
                format!(
                    "{{\"type\":\"csp-violation\",\"url\":\"https://shop.example/\",\"body\":{{\"documentURL\":{value},\"blockedURL\":{value},\
                     \"effectiveDirective\":\"script-src\",\"sourceFile\":{value},\"lineNumber\":{value}}}}}"
                )
            })
            .collect();
        let body = format!("[{}]", reports.join(","));
        assert_eq!(post_to(&server, "/v1/csp-reports/shop", None, "application/reports+json", body.as_bytes()), 204, "CSP");
    }
    let (json_events, logs_events) = (PANS.len() * 3 * 2, PANS.len() * (3 + spellings("1").len()));
    wait_for_count(&server, &reader, "event.dataset:csp", PANS.len() * (spellings("1").len() + 3));

    // Syslog over UDP and TCP: the card in every header field, and in the message.
    let (udp_address, tcp_address) = syslog_addresses(&log);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut tcp = std::net::TcpStream::connect(&tcp_address).unwrap();
    let mut frames = 0;
    for pan in PANS {
        for (w, form) in header_spellings(pan).iter().zip(number_forms(pan).iter().cycle()) {
            let body = format!("{{\"event.action\":\"syslog_test\",\"note\":\"{w}\",\"n\":{form}}}");
            let rfc5424 = format!("<14>1 {} {w} {w} {w} {w} - {body}", rfc3339_now());
            // An RFC 3164 HOSTNAME is letters, digits, dots and dashes; TAG[PID] takes the rest.
            let mut rfc3164 = vec![format!("<14>{} {w}[{w}]: {body}", rfc3339_now())];
            if w.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                rfc3164.push(format!("<14>{} {w} {w}[{w}]: {body}", rfc3339_now()));
            }
            for frame in std::iter::once(&rfc5424).chain(&rfc3164) {
                udp.send_to(frame.as_bytes(), &udp_address).unwrap();
                tcp.write_all(format!("{frame}\n").as_bytes()).unwrap();
                frames += 2;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    drop(tcp);
    wait_for_count(&server, &reader, "event.action:syslog_test", frames);

    // Follow: access lines appended to a file, delivered to the server.
    let follower_home = tempfile::tempdir().unwrap();
    let follow_log = dir.path().join("follow.log");
    let follow_lines: Vec<String> = PANS
        .iter()
        .flat_map(|pan| spellings(pan))
        .map(|w| format!("203.0.113.7 - - [{}] \"GET /follow?card={w} HTTP/1.1\" 200 1 \"-\" \"UA {w}\"", time_local_now()))
        .collect();
    std::fs::write(&follow_log, follow_lines.join("\n") + "\n").unwrap();
    let follower_stderr = dir.path().join("follow.stderr");
    let mut follower = Command::new(BIN)
        .args([
            "--data",
            follower_home.path().to_str().unwrap(),
            "ingest",
            "--follow",
            follow_log.to_str().unwrap(),
            "--format",
            "combined",
        ])
        .args(["--to", &server.url, "--token", &token])
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&follower_stderr).unwrap())
        .spawn()
        .unwrap();
    wait_for_count(&server, &reader, "url.path:/follow", follow_lines.len());
    follower.kill().unwrap();
    follower.wait().unwrap();
    server.stop();

    // Replay: old access lines and events, read by the CLI into the data directory.
    let replay_lines: Vec<String> = PANS
        .iter()
        .flat_map(|pan| spellings(pan))
        .map(|w| format!("203.0.113.6 - - [03/Mar/2024:10:00:00 +0000] \"GET /replay?card={w} HTTP/1.1\" 200 1 \"-\" \"UA {w}\""))
        .collect();
    std::fs::write(dir.path().join("replay.log"), replay_lines.join("\n") + "\n").unwrap();
    let replay_events: Vec<String> = PANS
        .iter()
        .flat_map(|pan| number_forms(pan).into_iter().zip(spellings(pan)))
        .map(|(form, w)| format!("{{\"@timestamp\":\"2024-03-03T10:00:00Z\",\"event.action\":\"replayed\",\"n\":{form},\"t\":\"{w}\"}}"))
        .collect();
    std::fs::write(dir.path().join("replay.ndjson"), replay_events.join("\n") + "\n").unwrap();
    let replay_stderr = dir.path().join("replay.stderr");
    let replayed = Command::new(BIN)
        .args(["replay", "replay.log", "replay.ndjson", "--json"])
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&replay_stderr).unwrap())
        .output()
        .unwrap();
    assert!(replayed.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(summary["stored"].as_u64(), Some((replay_lines.len() + replay_events.len()) as u64), "{summary}");
    // Replayed data is not written beside the test's files: everything is inside `data`.
    std::fs::remove_file(dir.path().join("replay.log")).unwrap();
    std::fs::remove_file(dir.path().join("replay.ndjson")).unwrap();
    std::fs::remove_file(&follow_log).unwrap();

    let stored = stored_ids(&dir.path().join("data"));
    let http_events = PANS.len() * spellings("1").len() * (6 * 3 + 1);
    let csp_events = PANS.len() * (spellings("1").len() + 3);
    let expected =
        http_events + json_events + logs_events + csp_events + frames + follow_lines.len() + summary["stored"].as_u64().unwrap() as usize;
    assert_eq!(stored.len(), expected, "every valid record was stored");

    let mut scanned = 0;
    let files = files_under(&dir.path().join("data")).into_iter().chain(files_under(follower_home.path()));
    for file in files.chain([log, follower_stderr, replay_stderr]) {
        let bytes = std::fs::read(&file).unwrap();
        scanned += bytes.len();
        for pan in PANS {
            for written in spellings(pan) {
                let found = bytes.windows(written.len()).any(|w| w == written.as_bytes());
                assert!(!found, "{written} found in {}", file.display());
            }
        }
    }
    assert!(scanned > 100_000, "scanned only {scanned} bytes");

    // The masked form and the fingerprint are what remains.
    let out = rampart(dir.path(), &["events", "search", "--json", "event.id:p0a"]);
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.contains("card 411111******1111 thanks"), "{line}");
    assert!(line.contains("\"fingerprint\":\""), "{line}");
}

#[test]
fn serve_refuses_data_without_its_key() {
    let (dir, _token) = setup();
    std::fs::remove_file(dir.path().join("data/secret.key")).unwrap();
    let out = rampart(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no secret.key"), "{stderr}");
    assert!(!dir.path().join("data/secret.key").exists(), "a new key was made beside old data");
}

#[test]
fn token_cli_lists_revokes_and_rejects_bad_input() {
    let (dir, _token) = setup();
    let out = rampart(dir.path(), &["token", "create", "--name", "sender", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = rampart(dir.path(), &["token", "create", "--name", "x", "--role", "root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(rampart(dir.path(), &["token", "revoke", "sender"]).status.success());
    let list = String::from_utf8(rampart(dir.path(), &["token", "list"]).stdout).unwrap();
    assert!(list.lines().any(|l| l.starts_with("sender") && l.contains("revoked")), "{list}");
    assert_eq!(rampart(dir.path(), &["token", "revoke", "nobody"]).status.code(), Some(1));
}

/// A `combined` line; `time` is `$time_local` without the seconds (`03/Mar/2024:10:00`).
fn combined(i: usize, time: &str) -> String {
    format!(r#"203.0.113.{} - - [{time}:{:02} +0000] "GET /item/{i}?ref=x HTTP/1.1" 200 {i} "-" "Mozilla/5.0""#, i % 250 + 1, i % 60)
}

fn search_count(server: &Server, token: &str, query: &str) -> usize {
    let mut response = ureq::get(&format!("{}/v1/events?limit=1000&q={query}", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    body["items"].as_array().unwrap().len()
}

#[test]
fn replay_keeps_old_timestamps_and_recognizes_a_second_run() {
    let (dir, _) = setup();
    let mut text: String = (0..2500).map(|i| combined(i, "03/Mar/2024:10:00") + "\n").collect();
    text.push_str("this is not an access log line\n");
    text.push_str(&combined(9999, "03/Mar/2024:10:00").replace("ref=x", "card=4111111111111111"));
    let file = dir.path().join("access.log");
    std::fs::write(&file, &text).unwrap();
    let out = rampart(dir.path(), &["replay", "access.log", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((summary["lines"].as_u64(), summary["stored"].as_u64(), summary["rejected"].as_u64()), (Some(2502), Some(2501), Some(1)));
    assert_eq!(summary["samples"][0]["line"], 2501);
    assert_eq!(summary["rejected_by_code"]["invalid_line"], 1);
    let again = rampart(dir.path(), &["replay", "access.log", "--format", "combined", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(2501)));
    let out = rampart(dir.path(), &["events", "search", "url.path:/item/9999", "--json"]);
    let event: serde_json::Value = serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(event["@timestamp"], "2024-03-03T10:00:39.000Z");
    assert_eq!(event["url"]["query"], "card=411111******1111");
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(!String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains("4111111111111111"), "{}", path.display());
        }
    }
    let bad = rampart(dir.path(), &["replay", "access.log", "--format", "apache9"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no format is named `apache9`"));
}

#[test]
fn follow_survives_rotation_and_restarts_without_loss_or_repeats() {
    let (dir, ingest) = setup();
    let out = rampart(dir.path(), &["token", "create", "--name", "reader", "--role", "analyst"]);
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let server = Server::start(dir.path(), free_port(), &dir.path().join("serve.log"));
    // The live window takes the last minute (the seconds come from the line number).
    let today = {
        let t = time::OffsetDateTime::now_utc() - Duration::from_secs(60);
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!("{:02}/{}/{}:{:02}:{:02}", t.day(), MONTHS[t.month() as usize - 1], t.year(), t.hour(), t.minute())
    };
    let log = dir.path().join("access.log");
    let append = |path: &Path, range: std::ops::Range<usize>| {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for i in range {
            writeln!(file, "{}", combined(i, &today)).unwrap();
        }
    };
    // The follower keeps its state in its own data directory.
    let follower_home = tempfile::tempdir().unwrap();
    let start_follower = || {
        Command::new(BIN)
            .args(["--data", follower_home.path().to_str().unwrap(), "ingest", "--follow", log.to_str().unwrap(), "--format", "combined"])
            .args(["--to", &server.url, "--token", &ingest])
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while search_count(&server, &reader, "event.dataset:access_log") < n {
            assert!(Instant::now() < deadline, "expected {n} events");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    append(&log, 0..100);
    let mut follower = start_follower();
    wait_for(100);
    // Rotation by rename, with lines written to the old file just before it.
    append(&log, 100..120);
    std::fs::rename(&log, dir.path().join("access.log.1")).unwrap();
    append(&dir.path().join("access.log.1"), 120..130);
    append(&log, 130..150);
    wait_for(150);
    // Killed hard, the follower misses lines written meanwhile and a copytruncate rotation.
    follower.kill().unwrap();
    follower.wait().unwrap();
    append(&log, 150..170);
    std::fs::copy(&log, dir.path().join("access.log.1")).unwrap();
    std::fs::write(&log, "").unwrap();
    append(&log, 170..200);
    let mut follower = start_follower();
    wait_for(200);
    std::thread::sleep(Duration::from_millis(1500));
    follower.kill().unwrap();
    follower.wait().unwrap();
    // Every line exactly once.
    for i in [0, 99, 119, 125, 149, 160, 169, 170, 199] {
        assert_eq!(search_count(&server, &reader, &format!("url.path:/item/{i}")), 1, "line {i}");
    }
    assert_eq!(search_count(&server, &reader, "event.dataset:access_log"), 200);
    server.stop();
}

const SQLI_RULE: &str = "title: Union select in the URL\nid: test-union-select\nlogsource:\n    category: webserver\ndetection:\n    \
    selection:\n        cs-uri-query|contains: 'union%20select'\n    condition: selection\nlevel: high\n";

fn attack_line(i: usize) -> String {
    // Live ingestion takes recent events only.
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    let stamp = now.format(&format).unwrap();
    format!(r#"198.51.100.{i} - - [{stamp}] "GET /search?q=1%20UNION%20SELECT%20card&n={i} HTTP/1.1" 200 10 "-" "curl/8""#)
}

#[test]
fn rules_tooling_validates_tests_lists_and_disables() {
    let (dir, _) = setup();
    let rules = dir.path().join("myrules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("good.yml"), SQLI_RULE).unwrap();
    std::fs::write(rules.join("bad.yml"), SQLI_RULE.replace("test-union-select", "test-bad").replace("|contains", "|contians")).unwrap();

    let out = rampart(dir.path(), &["rules", "validate", "myrules"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("bad.yml:7: rule test-bad: unknown modifier `contians`"), "{stdout}");
    assert!(stdout.contains("1 rule(s) valid, 1 invalid"), "{stdout}");
    assert!(rampart(dir.path(), &["rules", "validate", "myrules/good.yml"]).status.success());

    let log = format!("{}\n{}\n", combined(1, "03/Mar/2024:10:00"), attack_line(2));
    std::fs::write(dir.path().join("access.log"), &log).unwrap();
    let out = rampart(dir.path(), &["rules", "test", "myrules/good.yml", "--events", "access.log"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("line 2: Union select in the URL (test-union-select) [high]"), "{stdout}");
    assert!(stdout.contains("url.original = \"/search?q=1%20UNION%20SELECT%20card&n=2\""), "{stdout}");
    assert!(!stdout.contains("line 1:"), "{stdout}");

    // Rules in the data directory load beside the built-in ones, and can be switched off.
    std::fs::create_dir_all(dir.path().join("data/rules")).unwrap();
    std::fs::copy(rules.join("good.yml"), dir.path().join("data/rules/good.yml")).unwrap();
    let listed = String::from_utf8_lossy(&rampart(dir.path(), &["rules", "list"]).stdout).into_owned();
    assert!(listed.contains("test-union-select") && listed.contains(" rule(s), 0 refused"), "{listed}");
    assert!(rampart(dir.path(), &["rules", "disable", "test-union-select"]).status.success());
    let listed = rampart(dir.path(), &["rules", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mine = listed["items"].as_array().unwrap().iter().find(|r| r["id"] == "test-union-select").unwrap().clone();
    assert_eq!(mine["disabled"], true);
    let out = rampart(dir.path(), &["replay", "access.log", "--no-store", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = |summary: &serde_json::Value| {
        summary["detections_by_rule"].as_array().unwrap().iter().find(|r| r["rule"] == "test-union-select").cloned()
    };
    assert_eq!(mine(&summary), None, "a disabled rule matches nothing: {summary}");
    assert!(rampart(dir.path(), &["rules", "enable", "test-union-select"]).status.success());
    let out = rampart(dir.path(), &["replay", "access.log", "--no-store", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        mine(&summary),
        Some(serde_json::json!({"rule": "test-union-select", "title": "Union select in the URL", "level": "high", "count": 1}))
    );
    assert_eq!(stored_ids(&dir.path().join("data")).len(), 0, "--no-store stores nothing");
    let unknown = rampart(dir.path(), &["rules", "disable", "no-such-rule"]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn serve_reloads_changed_rules_and_keeps_the_last_good_version() {
    let (dir, token) = setup();
    let out = rampart(dir.path(), &["token", "create", "--name", "reader", "--role", "analyst"]);
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let log = dir.path().join("server.log");
    // A short reload interval keeps the test quick.
    let server = Server::start_with(dir.path(), port, &log, &[("RAMPART_DETECT__RELOAD_INTERVAL", "100ms")]);
    let get = |path: &str| -> serde_json::Value {
        let mut response = ureq::get(&format!("{}{path}", server.url)).header("Authorization", &format!("Bearer {reader}")).call().unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    };
    let send_line = |i: usize| {
        let response = ureq::post(&format!("{}/v1/logs/combined", server.url))
            .header("Authorization", &format!("Bearer {token}"))
            .send(attack_line(i).as_bytes())
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
    };
    let wait_for = |what: &str, check: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let rules = get("/v1/rules");
            if check(&rules) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {rules}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let has_rule = |rules: &serde_json::Value| rules["items"].as_array().unwrap().iter().any(|r| r["id"] == "test-union-select");
    send_line(1);
    let mine = "/v1/alerts?rule=test-union-select";
    assert_eq!(get(mine)["items"].as_array().unwrap().len(), 0);

    std::fs::create_dir_all(dir.path().join("data/rules")).unwrap();
    std::fs::write(dir.path().join("data/rules/mine.yml"), SQLI_RULE).unwrap();
    wait_for("the new rule is loaded", &has_rule);
    send_line(2);
    let alerts = get(mine);
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts["items"][0]["rule"]["id"], "test-union-select");
    assert_eq!(alerts["items"][0]["entities"][0]["value"], "198.51.100.2");

    // A broken edit is reported and the last good version keeps matching.
    std::fs::write(dir.path().join("data/rules/mine.yml"), "title: [broken").unwrap();
    wait_for("the broken file is reported", &|rules| {
        rules["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("mine.yml"))
    });
    assert!(has_rule(&get("/v1/rules")));
    send_line(3);
    assert_eq!(get(mine)["items"].as_array().unwrap().len(), 2);
    server.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("its last good version stays loaded"), "{log}");
}

#[test]
fn replay_scores_generated_traffic_by_family_in_both_modes() {
    let (dir, _) = setup();
    let out = rampart(dir.path(), &["generate", "--minutes", "20", "--seed", "7", "--rate", "10", "--out", "traffic"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for mode in [&["--no-store"][..], &[]] {
        let mut args = vec!["replay", "traffic/access.log", "traffic/events.ndjson", "--json"];
        args.extend_from_slice(mode);
        let out = rampart(dir.path(), &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let families = summary["truth"]["families"].as_array().unwrap();
        assert_eq!(families.len(), 11, "every generated family is scored ({mode:?}): {summary}");
        for family in families {
            assert!(family["detected"].as_u64().unwrap() >= 1, "{mode:?}: {family}");
            assert_eq!(family["benign_detections"], 0, "{mode:?}: {family}");
        }
        assert_eq!(summary["truth"]["benign_only"], serde_json::json!({}), "{mode:?}");
        // Correlations fire in both modes: credential stuffing is only caught by one.
        let by_rule = if mode.is_empty() { "alerts_by_rule" } else { "detections_by_rule" };
        let rules: Vec<&str> = summary[by_rule].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
        assert!(rules.iter().any(|t| t.to_lowercase().contains("credential stuffing")), "{mode:?}: {rules:?}");
    }
    // Stored: the human summary carries the table.
    let out = rampart(dir.path(), &["replay", "traffic/access.log", "traffic/events.ndjson"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ground truth") && stdout.contains("credential_stuffing") && stdout.contains("precision"), "{stdout}");
}
