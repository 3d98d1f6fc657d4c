//! `rampart bench soak`: a real `rampart serve` fed live traffic for a long time: failed requests,
//! resident memory minute by minute, and every acknowledged event still there after a SIGKILL.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rampart_model::Role;
use rampart_store::{EventStore, TokenStore};
use rampart_store::{NewToken, SqliteOptions, SqliteStore};
use serde_json::Value;
use time::OffsetDateTime;

use crate::datadir::DataDir;
use rampart_sim::{Generator, RecordKind, TrafficConfig};

/// How often the feeder cuts a batch per kind (access lines, shop events).
const BATCH_EVERY: Duration = Duration::from_millis(250);
/// The most records a batch holds: when the server falls behind, the feeder sends more batches
/// of this size rather than ever larger ones (as a log shipper does).
const BATCH_RECORDS: usize = 1000;
/// How long a batch is retried while the server is away (a restart takes a few seconds).
const RETRY_FOR: Duration = Duration::from_secs(120);
/// Batches waiting for a client before the feeder slows down: memory stays bounded when the
/// server falls behind, and the shortfall shows as a lower rate.
const QUEUE_CAP: usize = 64;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to feed traffic.
    #[arg(long, default_value = "30m", value_parser = rampart_model::parse_duration)]
    duration: Duration,
    /// Benign web requests per second (access lines); shop events and attacks come on top.
    #[arg(long, default_value_t = 4000.0)]
    rate: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// When to SIGKILL the server and start it again, as a fraction of the duration (0 = never).
    #[arg(long, default_value_t = 0.9)]
    kill_at: f64,
    /// Keep the data directory here instead of a temporary one.
    #[arg(long = "keep", value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// One body to deliver.
#[derive(Debug)]
struct Batch {
    path: &'static str,
    content_type: &'static str,
    /// `Idempotency-Key` and `offset` for log lines, so a resend stores nothing twice.
    source: Option<(String, u64)>,
    body: String,
}

/// Counters shared by the feeder, the clients and the reporter.
#[derive(Debug, Default)]
struct Tally {
    records: AtomicU64,
    requests: AtomicU64,
    /// Answers 5xx, or 4xx other than a record refused: the failures the soak must not see.
    failed: AtomicU64,
    /// Connection errors (the server was killed or starting): retried.
    unreachable: AtomicU64,
    acknowledged: AtomicU64,
    refused: AtomicU64,
    alerts: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    batches: Mutex<(VecDeque<Batch>, bool)>,
    ready: Condvar,
}

impl Queue {
    fn push(&self, batch: Batch) {
        let Ok(mut guard) = self.batches.lock() else { return };
        while guard.0.len() >= QUEUE_CAP {
            guard = match self.ready.wait_timeout(guard, Duration::from_millis(100)) {
                Ok((guard, _)) => guard,
                Err(_) => return,
            };
        }
        guard.0.push_back(batch);
        self.ready.notify_all();
    }

    fn pop(&self) -> Option<Batch> {
        let mut guard = self.batches.lock().ok()?;
        loop {
            if let Some(batch) = guard.0.pop_front() {
                self.ready.notify_all();
                return Some(batch);
            }
            if guard.1 {
                return None;
            }
            guard = self.ready.wait_timeout(guard, Duration::from_millis(100)).ok()?.0;
        }
    }

    fn close(&self) {
        if let Ok(mut guard) = self.batches.lock() {
            guard.1 = true;
        }
        self.ready.notify_all();
    }
}

/// The server under test: a child `rampart serve` and how to start it again.
struct Server {
    child: Child,
    data: PathBuf,
    listen: String,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, listen: &str, log: &Path) -> Result<Server> {
        let exe = std::env::current_exe().context("cannot find the rampart binary")?;
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).context("cannot open the server log")?;
        let child = Command::new(exe)
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", listen])
            .env("RUST_LOG", "warn")
            .env("RAMPART_SYSLOG__UDP", "")
            .env("RAMPART_SYSLOG__TCP", "")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .context("cannot start rampart serve")?;
        let server = Server { child, data: data.to_owned(), listen: listen.to_owned(), log: log.to_owned() };
        server.wait_healthy()?;
        Ok(server)
    }

    fn wait_healthy(&self) -> Result<()> {
        let url = format!("http://{}/healthz", self.listen);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ureq::get(&url).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the server did not answer /healthz within 60 s (see {})", self.log.display())
    }

    /// Resident memory in bytes, from `/proc`.
    fn rss(&self) -> Option<u64> {
        Some(super::bench::status_kib(&self.child.id().to_string(), "VmRSS:")? * 1024)
    }

    fn kill_and_restart(&mut self) -> Result<()> {
        self.child.kill().context("cannot kill the server")?;
        self.child.wait().context("cannot reap the server")?;
        *self = Server::start(&self.data, &self.listen, &self.log)?;
        Ok(())
    }

    /// SIGTERM, then wait for the graceful shutdown.
    fn stop(mut self) -> Result<()> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().context("cannot signal the server")?;
        let status = self.child.wait().context("cannot reap the server")?;
        if !status.success() {
            bail!("the server exited with {status} (see {})", self.log.display());
        }
        Ok(())
    }
}

pub fn run(args: Args) -> Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        bail!("--rate must be above 0 and at most 100000");
    }
    if !(0.0..1.0).contains(&args.kill_at) {
        bail!("--kill-at is a fraction of the duration, from 0 (never) to below 1");
    }
    let tmp = tempfile::Builder::new().prefix("rampart-soak-").tempdir().context("cannot make a temporary directory")?;
    let data = args.keep.clone().unwrap_or_else(|| tmp.path().join("data"));
    let log = tmp.path().join("server.log");
    let token = make_token(&data)?;
    let listen = free_loopback_address()?;
    let mut server = Server::start(&data, &listen, &log)?;
    let url = format!("http://{listen}");
    outln!(
        "soak: {} of traffic at {} requests/s with {} clients; server {url}, data {}",
        super::demo::humanize(args.duration),
        args.rate,
        args.clients,
        data.display()
    );

    let tally = Arc::new(Tally::default());
    let queue = Arc::new(Queue::default());
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let (queue, tally, url, token) = (queue.clone(), tally.clone(), url.clone(), token.clone());
            std::thread::spawn(move || client(&queue, &tally, &url, &token))
        })
        .collect();
    let feeder = {
        let (queue, tally) = (queue.clone(), tally.clone());
        let (rate, duration) = (args.rate, args.duration);
        std::thread::spawn(move || feed(&queue, &tally, rate, duration))
    };

    outln!(
        "{:>6} {:>12} {:>10} {:>8} {:>8} {:>13} {:>9} {:>8}",
        "minute",
        "records",
        "requests",
        "failed",
        "refused",
        "acknowledged",
        "alerts",
        "RSS MB"
    );
    let started = Instant::now();
    let kill_at = (args.kill_at > 0.0).then(|| args.duration.mul_f64(args.kill_at));
    let mut killed = false;
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut next_report = Duration::from_secs(60);
    while !feeder.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
        let elapsed = started.elapsed();
        if let Some(at) = kill_at
            && !killed
            && elapsed >= at
        {
            killed = true;
            let before = tally.acknowledged.load(Ordering::Relaxed);
            server.kill_and_restart()?;
            outln!("  SIGKILL at {:.0} s with {before} events acknowledged; restarted", elapsed.as_secs_f64());
            continue;
        }
        if elapsed >= next_report {
            next_report += Duration::from_secs(60);
            let rss = server.rss().unwrap_or(0);
            if !killed {
                samples.push((elapsed.as_secs() / 60, rss));
            }
            report_line(&format!("{}", elapsed.as_secs() / 60), &tally, rss)?;
        }
    }
    feeder.join().map_err(|_| anyhow::anyhow!("the feeder panicked"))?;
    queue.close();
    for client in clients {
        client.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
    }
    let rss = server.rss().unwrap_or(0);
    report_line("end", &tally, rss)?;
    server.stop()?;

    let stored = count_stored(&data)?;
    let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let logged_errors = std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| l.contains("ERROR")).count();
    outln!(
        "requests {} (failed {failed}, unreachable while restarting {}), records refused {}, alerts raised or updated {}",
        tally.requests.load(Ordering::Relaxed),
        tally.unreachable.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.alerts.load(Ordering::Relaxed)
    );
    outln!(
        "acknowledged {acknowledged} events ({:.0} a second over {:.0} s), stored after the restart {stored}; lost {}",
        acknowledged as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
        acknowledged.saturating_sub(stored)
    );
    if let Some(plateau) = plateau(&samples) {
        outln!("{plateau}");
    }
    outln!("ERROR lines in the server log: {logged_errors}");
    if failed > 0 || stored < acknowledged {
        bail!("the soak failed: {failed} failed requests, {} acknowledged events lost", acknowledged.saturating_sub(stored));
    }
    Ok(())
}

/// Generates live traffic (timestamps are the wall clock) and queues it in batches.
fn feed(queue: &Queue, tally: &Tally, rate: f64, duration: Duration) {
    let start = OffsetDateTime::now_utc();
    let generator = Generator::new(TrafficConfig { seed: 11, start, duration, requests_per_second: rate });
    let began = Instant::now();
    let (mut lines, mut events) = (String::new(), String::new());
    let (mut offset, mut event_seq) = (0u64, 0u64);
    let mut in_batch = 0;
    let cut = |lines: &mut String, events: &mut String, offset: &mut u64| {
        if !lines.is_empty() {
            let body = std::mem::take(lines);
            let source = Some(("soak-access-log".to_owned(), *offset));
            *offset += body.len() as u64;
            queue.push(Batch { path: "/v1/logs/combined-truth", content_type: "text/plain", source, body });
        }
        if !events.is_empty() {
            let body = std::mem::take(events);
            queue.push(Batch { path: "/v1/events", content_type: "application/x-ndjson", source: None, body });
        }
    };
    for record in generator {
        let due = Duration::try_from(record.time - start).unwrap_or_default();
        if in_batch >= BATCH_RECORDS {
            cut(&mut lines, &mut events, &mut offset);
            in_batch = 0;
        }
        if due > began.elapsed() + BATCH_EVERY {
            cut(&mut lines, &mut events, &mut offset);
            in_batch = 0;
            while due > began.elapsed() {
                std::thread::sleep(due.saturating_sub(began.elapsed()).min(BATCH_EVERY));
            }
        }
        tally.records.fetch_add(1, Ordering::Relaxed);
        in_batch += 1;
        match record.kind {
            RecordKind::AccessLine(line) => {
                lines.push_str(&line);
                lines.push('\n');
            }
            RecordKind::ShopEvent(mut event) => {
                // An id of its own, so a batch resent after the SIGKILL is recognized.
                event_seq += 1;
                if let Some(object) = event.get_mut("event").and_then(Value::as_object_mut) {
                    object.insert("id".into(), Value::String(format!("soak-{event_seq}")));
                }
                events.push_str(&event.to_string());
                events.push('\n');
            }
        }
    }
    cut(&mut lines, &mut events, &mut offset);
}

/// Delivers batches until the queue closes; a batch is retried until the server answers it.
fn client(queue: &Queue, tally: &Tally, url: &str, token: &str) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into();
    while let Some(batch) = queue.pop() {
        let first = Instant::now();
        loop {
            let mut request = agent
                .post(&format!("{url}{}", batch.path))
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", batch.content_type);
            if let Some((key, offset)) = &batch.source {
                request = request.header("Idempotency-Key", key).query("offset", offset.to_string());
            }
            tally.requests.fetch_add(1, Ordering::Relaxed);
            match request.send(batch.body.as_bytes()) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let answer: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default()).unwrap_or_default();
                    let count = |key: &str| answer[key].as_u64().unwrap_or(0);
                    if status == 202 || (status == 400 && answer.get("accepted").is_some()) {
                        tally.acknowledged.fetch_add(count("accepted") + count("duplicates"), Ordering::Relaxed);
                        tally.refused.fetch_add(count("rejected"), Ordering::Relaxed);
                        tally.alerts.fetch_add(count("alerts") + count("alerts_updated"), Ordering::Relaxed);
                        break;
                    }
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    if status < 500 {
                        break; // the same body would be refused again
                    }
                }
                Err(_) => {
                    tally.unreachable.fetch_add(1, Ordering::Relaxed);
                }
            }
            if first.elapsed() > RETRY_FOR {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn make_token(data: &Path) -> Result<String> {
    let dir = DataDir::new(data);
    dir.open_key()?;
    let store = SqliteStore::open(&dir.db_path(), SqliteOptions::default())?;
    let (token, hash) = rampart_server::auth::generate_token();
    store.create_token(NewToken { name: "soak".into(), hash, role: Role::Admin, expires_at: None })?;
    store.close();
    Ok(token)
}

fn count_stored(data: &Path) -> Result<u64> {
    let store = SqliteStore::open(&DataDir::new(data).db_path(), SqliteOptions::default())?;
    let count = store.count_events()?;
    store.close();
    Ok(count)
}

fn free_loopback_address() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback")?;
    Ok(listener.local_addr()?.to_string())
}

fn report_line(label: &str, tally: &Tally, rss: u64) -> Result<()> {
    outln!(
        "{label:>6} {:>12} {:>10} {:>8} {:>8} {:>13} {:>9} {:>8.1}",
        tally.records.load(Ordering::Relaxed),
        tally.requests.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.acknowledged.load(Ordering::Relaxed),
        tally.alerts.load(Ordering::Relaxed),
        rss as f64 / 1e6
    );
    Ok(())
}

/// The memory of the last third of the run against the middle third: a plateau has no growth.
fn plateau(samples: &[(u64, u64)]) -> Option<String> {
    if samples.len() < 3 {
        return None;
    }
    let third = samples.len() / 3;
    let peak = |part: &[(u64, u64)]| part.iter().map(|(_, rss)| *rss).max().unwrap_or(0) as f64 / 1e6;
    let (middle, last) = (peak(&samples[third..2 * third]), peak(&samples[2 * third..]));
    Some(format!(
        "resident memory: peak {middle:.1} MB in minutes {}-{}, {last:.1} MB in minutes {}-{} ({:+.1} %)",
        samples[third].0,
        samples[2 * third - 1].0,
        samples[2 * third].0,
        samples[samples.len() - 1].0,
        (last / middle.max(1e-9) - 1.0) * 100.0
    ))
}
