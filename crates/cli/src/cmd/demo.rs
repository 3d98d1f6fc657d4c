//! `rampart demo`: a server on a temporary data directory, fed live with generated shop traffic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rampart_model::{Role, parse_duration};
use rampart_store::NewToken;
use rampart_store::TokenStore;
use time::OffsetDateTime;

use super::Global;
use crate::config::Config;
use rampart_sim::{Generator, RecordKind, TrafficConfig};

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

pub fn run(global: &Global, args: Args) -> Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 1000.0) {
        return Err(super::usage("--speed must be above 0 and at most 1000"));
    }
    // `--data` is kept; without it the demo's data (its secret key too) goes with the demo.
    let temporary = match &global.data {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("rampart-demo-").tempdir().context("cannot create a temporary data directory")?),
    };
    let data = global.data.clone().or_else(|| temporary.as_ref().map(|t| t.path().to_owned()));
    // Settings from --config only: without it the demo runs on the embedded defaults, whatever
    // ./rampart.toml says.
    let mut config = match &global.config {
        Some(path) => Config::load(Some(path), data.as_deref())?,
        None => Config::defaults()?,
    };
    if let Some(data) = data {
        config.data_dir = data;
    }
    config.syslog.udp = None;
    config.syslog.tcp = None;
    // The traffic starts in the past (see `FeedClock`): the live window must reach back to it.
    let span = args.duration.mul_f64(args.speed.max(1.0));
    config.ingest.max_event_age = config.ingest.max_event_age.max(span + Duration::from_secs(3600));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let outcome = runtime.block_on(demo(config, args, temporary.is_some()));
    drop(runtime);
    drop(temporary); // the demo's data goes with it, however the demo ended
    outcome
}

/// The generated traffic's clock. Generated time runs `speed` times faster than the wall clock,
/// and ends at the wall clock: at speeds above 1 it starts `(speed - 1) × duration` in the past,
/// so no event is ever ahead of the clock (none is refused as from the future, and no alert is
/// detected before its events), and the spacing of events is as generated (correlation windows
/// see the rates they were written for).
#[derive(Debug, Clone, Copy)]
struct FeedClock {
    start: OffsetDateTime,
    began: Instant,
    speed: f64,
}

impl FeedClock {
    fn new(duration: Duration, speed: f64) -> FeedClock {
        let lead = duration.mul_f64((speed - 1.0).max(0.0));
        let start = OffsetDateTime::now_utc() - time::Duration::try_from(lead).unwrap_or(time::Duration::ZERO);
        FeedClock { start, began: Instant::now(), speed }
    }

    /// When a record of generated time `time` falls due, from the start of the feed.
    fn due(&self, time: OffsetDateTime) -> Duration {
        Duration::try_from(time - self.start).unwrap_or_default().div_f64(self.speed)
    }

    /// The generated time now: what correlation windows close by.
    fn now(&self) -> OffsetDateTime {
        let elapsed = time::Duration::try_from(self.began.elapsed().mul_f64(self.speed)).unwrap_or(time::Duration::ZERO);
        (self.start + elapsed).min(OffsetDateTime::now_utc())
    }
}

async fn demo(config: Config, args: Args, temporary: bool) -> Result<()> {
    // Ctrl-C and SIGTERM both stop the demo (and remove its temporary data): listened for from
    // the start, before anything is printed.
    let mut signals = StopSignals::new()?;
    let mut stop_signal = std::pin::pin!(signals.recv());
    let (store, state) = super::serve::open(&config)?;
    rampart_server::restore_correlation_state(&state)?;
    let (token, hash) = rampart_server::auth::generate_token();
    // A kept data directory gets a new demo token each run.
    let name = format!("demo-{}", OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000);
    store.create_token(NewToken { name, hash, role: Role::Admin, expires_at: None })?;
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?,
    };
    let url = format!("http://{}", listener.local_addr()?);
    let stop = Arc::new(AtomicBool::new(false));
    let clock = FeedClock::new(args.duration, args.speed);
    let upkeep = spawn_upkeep(state.clone(), clock);
    let server = tokio::spawn(rampart_server::serve(listener, state.clone(), {
        let stop = stop.clone();
        async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }));

    let kept = if temporary { "removed on exit" } else { "kept" };
    outln!("Rampart demo: {url}  (data in {}, {kept})", config.data_dir.display());
    outln!("admin token: {token}");
    outln!("try: curl -H 'Authorization: Bearer {token}' '{url}/v1/events?q=rampart.truth:*&limit=5'");
    outln!("     curl -H 'Authorization: Bearer {token}' '{url}/v1/alerts?limit=5'");
    outln!(
        "feeding {} of generated traffic at {}x, from {} to now; Ctrl-C stops",
        humanize(args.duration.mul_f64(args.speed)),
        args.speed,
        rampart_model::format_timestamp(clock.start)
    );

    let counts = Arc::new(Counts::default());
    let feeder = {
        let (url, token, counts, stop) = (url.clone(), token.clone(), counts.clone(), stop.clone());
        tokio::task::spawn_blocking(move || feed(&url, &token, &args, clock, &counts, &stop))
    };
    let started = Instant::now();
    let mut ticker = tokio::time::interval(REPORT_EVERY);
    ticker.tick().await;
    let mut printed = Ok(());
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                printed = report(&counts, started);
                if printed.is_err() {
                    break; // stdout is closed: nobody watches any more
                }
            }
            () = &mut stop_signal => break,
            () = async { while !feeder.is_finished() { tokio::time::sleep(Duration::from_millis(50)).await } } => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let fed = feeder.await.context("the feeder stopped")?;
    if printed.is_ok() {
        printed = report(&counts, started);
    }
    server.await.context("the server stopped")?.context("the server failed")?;
    upkeep.abort();
    tokio::task::spawn_blocking(move || {
        if let Err(error) = rampart_server::save_correlation_state(&state) {
            tracing::error!(error = %error, "cannot save the correlation windows");
        }
        drop(state);
        store.close();
    })
    .await?;
    fed.and(printed)
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment this is made.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("cannot catch SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("cannot catch SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// Resolves on the first of them.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every second, closes the correlation windows due by the generated traffic's clock.
fn spawn_upkeep(state: rampart_server::AppState, clock: FeedClock) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let state = state.clone();
            match tokio::task::spawn_blocking(move || rampart_server::correlation_upkeep(&state, clock.now())).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "correlation upkeep failed; retrying next second"),
                Err(error) => tracing::error!(error = %error, "correlation upkeep failed"),
            }
        }
    })
}

/// Sends the generated traffic as it falls due, never before (so no event is ahead of the
/// clock): access lines to `POST /v1/logs/combined-truth`, shop events to `POST /v1/events`,
/// in batches of at least `SEND_EVERY` of traffic.
fn feed(url: &str, token: &str, args: &Args, clock: FeedClock, counts: &Counts, stop: &AtomicBool) -> Result<()> {
    let generator = Generator::new(TrafficConfig {
        seed: args.seed,
        start: clock.start,
        duration: args.duration.mul_f64(args.speed),
        requests_per_second: args.rate,
    });
    let (mut lines, mut events) = (String::new(), String::new());
    for record in generator {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let due = clock.due(record.time);
        if due > clock.began.elapsed() {
            flush(url, token, &mut lines, &mut events, counts)?;
            let wake = due.max(clock.began.elapsed() + SEND_EVERY);
            while wake > clock.began.elapsed() && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(wake.saturating_sub(clock.began.elapsed()).min(SEND_EVERY));
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

fn report(counts: &Counts, started: Instant) -> Result<()> {
    let attacks =
        counts.attacks.lock().map(|a| a.iter().map(|(f, n)| format!("{f}={n}")).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    outln!(
        "[{:>4}s] access lines {}  shop events {}  stored {}  refused {}  alerts {}  attack records: {}",
        started.elapsed().as_secs(),
        counts.lines.load(Ordering::Relaxed),
        counts.events.load(Ordering::Relaxed),
        counts.stored.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
        counts.alerts.load(Ordering::Relaxed),
        if attacks.is_empty() { "none yet".to_owned() } else { attacks }
    );
    Ok(())
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
