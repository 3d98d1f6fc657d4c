//! `rampart demo`: a server on a temporary data directory, fed live with generated shop traffic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rampart_model::{Role, parse_duration};
use rampart_store::{NewToken, Store};
use time::OffsetDateTime;

use super::Global;
use crate::config::Config;
use crate::generate::{Generator, RecordKind, TrafficConfig};

/// How often the feeder sends what is due, and how often counts are printed.
const SEND_EVERY: Duration = Duration::from_millis(250);
const REPORT_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to run (e.g. 30s, 10m, 2h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    /// Generated seconds fed per real second (10 shows a 10-minute attack mix in one minute).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Benign web requests per generated second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Address of the API; when taken, any free port is used.
    #[arg(long, default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
}

/// Counts the feeder keeps and the reporter prints.
#[derive(Default)]
struct Counts {
    lines: AtomicUsize,
    events: AtomicUsize,
    stored: AtomicUsize,
    refused: AtomicUsize,
    alerts: AtomicUsize,
    attacks: std::sync::Mutex<BTreeMap<&'static str, usize>>,
}

pub fn run(_global: &Global, args: Args) -> Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 1000.0) {
        anyhow::bail!("--speed must be above 0 and at most 1000");
    }
    let data = tempfile::Builder::new().prefix("rampart-demo-").tempdir().context("cannot create a temporary data directory")?;
    let mut config = Config::defaults()?;
    config.data_dir = data.path().to_owned();
    config.syslog.udp = None;
    config.syslog.tcp = None;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(demo(config, args))?;
    drop(data); // the demo's data goes with it
    Ok(())
}

async fn demo(config: Config, args: Args) -> Result<()> {
    let (store, state) = super::serve::open(&config)?;
    let (token, hash) = rampart_server::auth::generate_token();
    store.create_token(NewToken { name: "demo".into(), hash, role: Role::Admin, expires_at: None })?;
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?,
    };
    let url = format!("http://{}", listener.local_addr()?);
    let stop = Arc::new(AtomicBool::new(false));
    let upkeep = super::serve::spawn_correlation_upkeep(state.clone(), config.detect.snapshot_interval);
    let server = tokio::spawn(rampart_server::serve(listener, state, {
        let stop = stop.clone();
        async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }));

    println!("Rampart demo: {url}  (data in {}, removed on exit)", config.data_dir.display());
    println!("admin token: {token}");
    println!("try: curl -H 'Authorization: Bearer {token}' '{url}/v1/events?q=rampart.truth:*&limit=5'");
    println!("     curl -H 'Authorization: Bearer {token}' '{url}/v1/alerts?limit=5'");
    println!("feeding {} of generated traffic at {}x; Ctrl-C stops", humanize(args.duration), args.speed);

    let counts = Arc::new(Counts::default());
    let feeder = {
        let (url, token, counts, stop) = (url.clone(), token.clone(), counts.clone(), stop.clone());
        tokio::task::spawn_blocking(move || feed(&url, &token, &args, &counts, &stop))
    };
    let started = Instant::now();
    let mut ticker = tokio::time::interval(REPORT_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => report(&counts, started),
            _ = tokio::signal::ctrl_c() => {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            () = async { while !feeder.is_finished() { tokio::time::sleep(Duration::from_millis(50)).await } } => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let fed = feeder.await.context("the feeder stopped")?;
    report(&counts, started);
    server.await.context("the server stopped")?.context("the server failed")?;
    upkeep.abort();
    tokio::task::spawn_blocking(move || store.close()).await?;
    fed
}

/// Sends the generated traffic as it falls due: access lines to `POST /v1/logs/combined-truth`,
/// shop events to `POST /v1/events`.
fn feed(url: &str, token: &str, args: &Args, counts: &Counts, stop: &AtomicBool) -> Result<()> {
    let start = OffsetDateTime::now_utc();
    let generator = Generator::new(TrafficConfig {
        seed: args.seed,
        start,
        duration: args.duration.mul_f64(args.speed),
        requests_per_second: args.rate,
    });
    let began = Instant::now();
    let (mut lines, mut events) = (String::new(), String::new());
    for record in generator {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Generated time runs `speed` times faster than the wall clock.
        let due = Duration::try_from(record.time - start).unwrap_or_default().div_f64(args.speed);
        if due > began.elapsed() + SEND_EVERY {
            flush(url, token, &mut lines, &mut events, counts)?;
            while due > began.elapsed() && !stop.load(Ordering::Relaxed) {
                std::thread::sleep((due - began.elapsed()).min(SEND_EVERY));
            }
        }
        if let Some(family) = record.truth
            && let Ok(mut attacks) = counts.attacks.lock()
        {
            *attacks.entry(family).or_default() += 1;
        }
        match record.kind {
            RecordKind::AccessLine(line) => {
                lines.push_str(&line);
                lines.push('\n');
                counts.lines.fetch_add(1, Ordering::Relaxed);
            }
            RecordKind::ShopEvent(event) => {
                events.push_str(&event.to_string());
                events.push('\n');
                counts.events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    flush(url, token, &mut lines, &mut events, counts)
}

fn flush(url: &str, token: &str, lines: &mut String, events: &mut String, counts: &Counts) -> Result<()> {
    for (path, content_type, body) in
        [("/v1/logs/combined-truth", "text/plain", &mut *lines), ("/v1/events", "application/x-ndjson", &mut *events)]
    {
        if body.is_empty() {
            continue;
        }
        let mut response = ureq::post(&format!("{url}{path}"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .config()
            .http_status_as_error(false)
            .build()
            .send(body.as_bytes())
            .with_context(|| format!("cannot send to {url}{path}"))?;
        let answer: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default()).unwrap_or_default();
        counts.stored.fetch_add(answer["accepted"].as_u64().unwrap_or(0) as usize, Ordering::Relaxed);
        counts.refused.fetch_add(answer["rejected"].as_u64().unwrap_or(0) as usize, Ordering::Relaxed);
        counts.alerts.fetch_add(answer["alerts"].as_u64().unwrap_or(0) as usize, Ordering::Relaxed);
        body.clear();
    }
    Ok(())
}

fn report(counts: &Counts, started: Instant) {
    let attacks =
        counts.attacks.lock().map(|a| a.iter().map(|(f, n)| format!("{f}={n}")).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    println!(
        "[{:>4}s] access lines {}  shop events {}  stored {}  refused {}  alerts {}  attack records: {}",
        started.elapsed().as_secs(),
        counts.lines.load(Ordering::Relaxed),
        counts.events.load(Ordering::Relaxed),
        counts.stored.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
        counts.alerts.load(Ordering::Relaxed),
        if attacks.is_empty() { "none yet".to_owned() } else { attacks }
    );
}

pub(super) fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}
