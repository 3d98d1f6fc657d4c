//! `rampart bench store|ingest|parse|detect|correlate|soak`: throughput and latency on this machine, with seeded traffic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rampart_model::{Event, Query, Role};
use rampart_store::{EventStore, TokenStore};
use rampart_store::{NewToken, SearchRequest, SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Global;
use crate::config::ConfigFile;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Events/s appended to the embedded store, and search latency.
    Store {
        /// Events to append.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Events per append.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Events/s over HTTP end to end (NDJSON POST to a server on loopback), and request latency.
    Ingest {
        /// Events to send.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Events per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Times to send that many (new) events to the same server: resident memory is printed
        /// after each round, a short soak that shows whether it levels off.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Access-log lines/s on one core: card scan, split by `combined`, typed fields, client IP.
    Parse {
        /// Generated lines (from `rampart generate`'s traffic, attacks included).
        #[arg(long, default_value_t = 200_000)]
        lines: usize,
        /// Passes over the lines.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
    /// Access-log lines/s on one core parsed and matched against Sigma rules (the parse-only
    /// figure of the same lines is printed beside it).
    Detect {
        /// Generated lines (from `rampart generate`'s traffic, attacks included).
        #[arg(long, default_value_t = 200_000)]
        lines: usize,
        /// Passes over the lines.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Rule files or directories to load as well, e.g. ../shared/data/sigmahq.
        #[arg(long = "rules", value_name = "PATH")]
        rules: Vec<std::path::PathBuf>,
        /// Generated webserver rules to add (shapes like SigmaHQ's: contains lists, prefixes,
        /// user agents, keywords, status codes, one regex in a hundred).
        #[arg(long, default_value_t = 0)]
        variants: usize,
        /// Leave the built-in rules out.
        #[arg(long)]
        no_builtin: bool,
    },
    /// Correlation with the built-in rule pack: events/s while 1 M groups are active, bytes per
    /// group, and the detection lag (event to stored alert) of attacks inside heavy traffic.
    Correlate {
        /// Distinct groups (addresses, accounts, devices, sessions, cards) the traffic spreads over.
        #[arg(long, default_value_t = 1_000_000)]
        groups: usize,
        /// Events per pass; two passes run (filling the windows, then with them full).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Seconds of the lag phase (traffic through detection and the embedded store).
        #[arg(long, default_value_t = 10)]
        lag_seconds: u64,
    },
    /// A real `rampart serve` fed live shop traffic and access lines (attacks included, so alerts
    /// are raised) for a long time: failed requests, resident memory each minute, and every
    /// acknowledged event still stored after a SIGKILL and restart.
    Soak(super::soak::Args),
}

pub fn run(_global: &Global, command: Command) -> Result<()> {
    match command {
        Command::Store { events, batch } => bench_store(events, batch.max(1)),
        Command::Ingest { events, batch, clients, rounds } => bench_ingest(events, batch.max(1), clients.max(1), rounds.max(1)),
        Command::Parse { lines, rounds } => bench_parse(lines.max(1), rounds.max(1)),
        Command::Detect { lines, rounds, rules, variants, no_builtin } => {
            bench_detect(lines.max(1), rounds.max(1), &rules, variants, !no_builtin)
        }
        Command::Correlate { groups, events, lag_seconds } => {
            bench_correlate(groups.max(1), events.max(1))?;
            bench_detection_lag(lag_seconds.max(1))
        }
        Command::Soak(args) => super::soak::run(args),
    }
}

/// Generated lines of `rampart generate`'s traffic (attacks included).
fn generated_lines(count: usize) -> Vec<String> {
    use rampart_sim::{Generator, RecordKind, TrafficConfig};
    let traffic =
        TrafficConfig { seed: 7, start: OffsetDateTime::now_utc(), duration: Duration::from_secs(24 * 3600), requests_per_second: 50.0 };
    Generator::new(traffic)
        .filter_map(|record| match record.kind {
            RecordKind::AccessLine(line) => Some(line),
            RecordKind::ShopEvent(_) => None,
        })
        .take(count)
        .collect()
}

/// Parse + client IP + Sigma match of every line, against the parse alone: the difference is
/// what matching costs.
fn bench_detect(count: usize, rounds: usize, paths: &[std::path::PathBuf], variants: usize, builtin: bool) -> Result<()> {
    use rampart_detect::{FieldMapping, Scratch, builtin_rules, compile_rules, read_rule_path};
    use rampart_ingest::{ClientIpResolver, ClientIpSource, LineFormat, LogFormats};
    let mut files = if builtin { builtin_rules() } else { Vec::new() };
    for path in paths {
        let (found, errors) = read_rule_path(path);
        files.extend(found);
        for error in errors {
            eprintln!("error: {error}");
        }
    }
    files.extend(rule_variants(variants));
    let compiled = compile_rules(&files, &FieldMapping::builtin(), &std::collections::HashSet::new());
    let routed = compiled.rules.iter().filter(|r| r.routed && r.logsource.category.as_deref() == Some("webserver")).count();
    outln!(
        "{} rules loaded ({} refused), {routed} of them webserver rules that see access-log lines",
        compiled.rules.len(),
        compiled.errors.len()
    );
    let lines = generated_lines(count);
    let Some(LineFormat::Text(format)) = LogFormats::default().get("combined") else { anyhow::bail!("combined is built in") };
    let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse()?], vec![ClientIpSource::XForwardedFor]);
    let mut scratch = Scratch::default();
    let mut matches = Vec::new();
    let mut run = |detect: bool| {
        let mut matched = 0usize;
        let started = Instant::now();
        for _ in 0..rounds {
            for line in &lines {
                if let Ok(mut record) = format.parse_line(std::hint::black_box(line)) {
                    record.resolve_client(&resolver);
                    if detect {
                        matches.clear();
                        compiled.engine.evaluate(&record, &mut scratch, &mut matches);
                        matched += matches.len();
                    } else {
                        std::hint::black_box(&record);
                    }
                }
            }
        }
        (started.elapsed().as_secs_f64(), matched / rounds)
    };
    let (parse_only, _) = run(false);
    let (with_rules, matched) = run(true);
    let total = (lines.len() * rounds) as f64;
    outln!(
        "{} lines, {rounds} rounds on one core: parse + match {:.0} lines/s ({:.0} ns a line); parse alone {:.0} lines/s ({:.0} ns); \
         matching costs {:.0} ns a line; {matched} matches a round",
        lines.len(),
        total / with_rules,
        with_rules * 1e9 / total,
        total / parse_only,
        parse_only * 1e9 / total,
        (with_rules - parse_only).max(0.0) * 1e9 / total,
    );
    Ok(())
}

/// `count` generated webserver rules in the shapes SigmaHQ web rules use, each with literals of
/// its own, so that the engine holds `count` distinct rules.
fn rule_variants(count: usize) -> Vec<rampart_detect::RuleFile> {
    (0..count)
        .map(|i| {
            let detection = match i % 6 {
                _ if i % 100 == 99 => format!("    selection:\n        cs-uri-query|re: '/api/v[0-9]+/item{i}/'\n    condition: selection"),
                0 => format!("    selection:\n        cs-uri-query|contains:\n            - '/v{i}/export'\n            - 'x{i}='\n    condition: selection"),
                1 => format!(
                    "    selection:\n        cs-uri-stem|startswith: '/internal-{i}/'\n        sc-status:\n            - 401\n            - 403\n    condition: selection"
                ),
                2 => format!(
                    "    selection:\n        cs-user-agent|contains:\n            - 'scanbot-{i}'\n            - 'crawl{i}/'\n    condition: selection"
                ),
                3 => format!(
                    "    selection:\n        cs-method: POST\n    keywords:\n        - 'payload{i}'\n        - 'exploit-{i}'\n    condition: selection and keywords"
                ),
                4 => format!("    selection:\n        cs-uri-query|contains|all:\n            - 'cmd{i}'\n            - 'exec'\n    condition: selection"),
                _ => format!(
                    "    selection:\n        cs-referer|endswith: '.evil{i}.example'\n    filter:\n        sc-status: 404\n    condition: selection and not filter"
                ),
            };
            let text = format!(
                "title: Generated variant {i}\nid: bench-variant-{i}\nlogsource:\n    category: webserver\ndetection:\n{detection}\nlevel: medium\n"
            );
            rampart_detect::RuleFile { name: format!("variant-{i}.yml"), text }
        })
        .collect()
}

/// The hot path of an access-log line, timed alone: what detection will run on every line.
fn bench_parse(count: usize, rounds: usize) -> Result<()> {
    use rampart_ingest::{ClientIpResolver, ClientIpSource, LineFormat, LogFormats, may_contain_pan};
    let lines = generated_lines(count);
    let bytes: usize = lines.iter().map(String::len).sum();
    let Some(LineFormat::Text(format)) = LogFormats::default().get("combined") else { anyhow::bail!("combined is built in") };
    let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse()?], vec![ClientIpSource::XForwardedFor]);
    let (mut parsed, mut flagged) = (0usize, 0usize);
    let started = Instant::now();
    for _ in 0..rounds {
        for line in &lines {
            if may_contain_pan(line.as_bytes()) {
                flagged += 1;
            }
            if let Ok(mut record) = format.parse_line(std::hint::black_box(line)) {
                record.resolve_client(&resolver);
                parsed += usize::from(record.status.is_some());
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = (lines.len() * rounds) as f64;
    outln!(
        "{} lines ({} bytes on average), {rounds} rounds on one core: {:.0} lines/s, {:.0} ns a line; {} parsed, {} flagged for card masking",
        lines.len(),
        bytes / lines.len().max(1),
        total / elapsed,
        elapsed * 1e9 / total,
        parsed / rounds,
        flagged / rounds
    );
    Ok(())
}

/// A shop event of group `g`: failed logins, declined payments and catalogue requests, each
/// naming the group's own address, account, device, session and card, so that every correlation
/// of the pack keeps a window per group.
fn group_event(i: usize, g: usize, at: OffsetDateTime) -> Value {
    let at = rampart_model::format_timestamp(at);
    let ip = format!("{}.{}.{}.{}", 11 + (g >> 24) % 200, (g >> 16) & 255, (g >> 8) & 255, g & 255);
    let id = format!("corr-{i}");
    match i % 3 {
        0 => json!({
            "@timestamp": at, "event": {"id": id, "action": "login", "category": "authentication", "outcome": "failure"},
            "source": {"ip": ip}, "user": {"name": format!("user{g}")}, "session": {"id": format!("s{g}")}, "device": {"id": format!("d{g}")}
        }),
        1 => json!({
            "@timestamp": at, "event": {"id": id, "action": "payment_attempt", "category": "payment", "outcome": "failure"},
            "source": {"ip": ip}, "user": {"name": format!("user{g}")}, "session": {"id": format!("s{g}")}, "device": {"id": format!("d{g}")},
            "payment": {"amount": "19.99", "currency": "EUR", "outcome": "declined", "card": {"fingerprint": format!("fp{g}")}}
        }),
        _ => json!({
            "@timestamp": at, "event": {"id": id, "action": "web_request", "category": "web"},
            "source": {"ip": ip}, "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
            "url": {"original": format!("/product/{}", i % 5000), "path": format!("/product/{}", i % 5000)},
            "user_agent": {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
        }),
    }
}

/// Resident memory of this process now and at its peak (`VmRSS`, `VmHWM`), in MiB (Linux).
fn memory_line() -> String {
    match (status_kib("self", "VmRSS:"), status_kib("self", "VmHWM:")) {
        (Some(now), Some(peak)) => format!("resident memory {} MiB, peak {} MiB", now / 1024, peak / 1024),
        _ => "resident memory unknown (no /proc/self/status)".to_owned(),
    }
}

/// Resident memory of this process in bytes (Linux), for bytes-per-group figures.
fn resident_bytes() -> Option<u64> {
    Some(status_kib("self", "VmRSS:")? * 1024)
}

/// A kB field (`VmRSS:`, `VmHWM:` ...) of `/proc/<process>/status` (Linux); `process` is a pid or `self`.
pub(super) fn status_kib(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok()
}

/// Events/s through the built-in pack (single-event rules and correlations) with `groups`
/// active groups, and what a group costs.
fn bench_correlate(groups: usize, events: usize) -> Result<()> {
    use rampart_detect::{CorrelationLimits, Detector, RuleSources};
    // Room for every group of every correlation: the figure is for groups held, not evicted.
    let limits = CorrelationLimits { max_keys: groups.saturating_mul(16), ..CorrelationLimits::default() };
    let detector = Detector::load(RuleSources { builtin: true, ..RuleSources::default() })?.with_correlation_limits(limits);
    let rules = detector.rules();
    let correlations = rules.rules.iter().filter(|r| r.correlation.is_some() && !r.disabled).count();
    outln!("{} rules loaded, {correlations} of them correlations; {groups} groups, {events} events a pass", rules.rules.len());
    let start = OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let rss_before = resident_bytes();
    const BATCH: usize = 1000;
    for pass in 0..2 {
        let (mut busy, mut found) = (Duration::ZERO, 0usize);
        for first in (0..events).step_by(BATCH) {
            // Groups in turn; event time moves 1 ms per 10 events, so every window stays open.
            let batch: Vec<Event> = (first..(first + BATCH).min(events))
                .map(|i| {
                    let n = pass * events + i;
                    Event::from_json_at(group_event(n, i % groups, start + Duration::from_micros(n as u64 * 100)), start)
                })
                .collect::<Result<_, _>>()?;
            let t = Instant::now();
            found += detector.detect(std::hint::black_box(&batch), start).len();
            busy += t.elapsed();
        }
        let stats = detector.correlation_stats().total;
        let label = if pass == 0 { "filling the windows" } else { "windows full" };
        outln!(
            "pass {} ({label}): {:.0} events/s on one core ({:.0} ns an event); {} groups held, {} evicted, {found} detections",
            pass + 1,
            events as f64 / busy.as_secs_f64(),
            busy.as_secs_f64() * 1e9 / events as f64,
            stats.keys,
            stats.evicted,
        );
    }
    let stats = detector.correlation_stats().total;
    let keys = stats.keys.max(1);
    let rss = match (rss_before, resident_bytes()) {
        (Some(before), Some(after)) => format!("{:.0}", after.saturating_sub(before) as f64 / keys as f64),
        _ => "n/a".to_owned(),
    };
    outln!("bytes per group: {:.0} by the windows' own count, {rss} by resident memory", stats.bytes as f64 / keys as f64);
    let t = Instant::now();
    let snapshot = detector.snapshot_state();
    let saved = t.elapsed();
    let t = Instant::now();
    detector.restore_state(&snapshot)?;
    outln!(
        "snapshot: {:.1} MB ({:.0} bytes a group), written in {:?}, read back in {:?}",
        snapshot.len() as f64 / 1e6,
        snapshot.len() as f64 / keys as f64,
        saved,
        t.elapsed()
    );
    Ok(())
}

/// Detection lag under load: benign traffic as fast as detection and the embedded store take
/// it, with a credential-stuffing burst in every batch; the lag of a burst is from its last
/// event's creation to its alert stored.
fn bench_detection_lag(seconds: u64) -> Result<()> {
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let mut config = ConfigFile::default().validate()?;
    config.data_dir = tmp.path().join("data");
    let (store, state) = super::serve::open(&config)?;
    const BATCH: usize = 1000;
    let (mut lags, mut sent, mut batch_no) = (Vec::new(), 0usize, 0usize);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let now = OffsetDateTime::now_utc();
        // Benign traffic stamped now: sample_event(i, base) puts event i at base - 1 h + i ms.
        let base = now + Duration::from_secs(3600) - Duration::from_millis(sent as u64);
        let mut events: Vec<Event> =
            (0..BATCH - 12).map(|i| Event::from_json_at(sample_event(sent + i, base), now)).collect::<Result<_, _>>()?;
        // Twelve failed logins on twelve accounts from one new address: credential stuffing.
        let ip = format!("203.0.{}.{}", (batch_no >> 8) & 255, batch_no & 255);
        for k in 0..12 {
            let at = rampart_model::format_timestamp(now);
            events.push(Event::from_json_at(
                json!({"@timestamp": at, "event": {"id": format!("stuff-{batch_no}-{k}"), "action": "login", "category": "authentication", "outcome": "failure"},
                       "source": {"ip": ip}, "user": {"name": format!("victim{batch_no}-{k}")}}),
                now,
            )?);
        }
        let created = Instant::now();
        let stored = rampart_server::store_and_detect(&state, events)?;
        if stored.alerts.iter().any(|r| r.title.to_lowercase().contains("credential stuffing")) {
            lags.push(created.elapsed());
        }
        sent += BATCH;
        batch_no += 1;
    }
    let elapsed = started.elapsed();
    lags.sort();
    outln!(
        "detection lag under load: {sent} events in {:.1} s ({:.0} events/s through detection and the store), {} of {batch_no} bursts alerted; \
         event to stored alert p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or_default()
    );
    store.close();
    Ok(())
}

const STATUSES: [u16; 5] = [200, 200, 200, 404, 302];

/// A seeded shop event: web requests, logins and payments from a few thousand clients.
pub fn sample_event(i: usize, now: OffsetDateTime) -> Value {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    let ip = format!("198.51.{}.{}", (x >> 8) % 200, x % 250 + 1);
    // Live traffic arrives nearly in time order: one event a millisecond, jittered by up to 2 s.
    let at = rampart_model::format_timestamp(now - Duration::from_secs(3600) + Duration::from_millis(i as u64 + x % 2000));
    match x % 10 {
        0..=6 => json!({
            "@timestamp": at, "event": {"id": format!("bench-{i}"), "action": "web_request", "category": "web"},
            "source": {"ip": ip}, "http": {"request": {"method": "GET"}, "response": {"status_code": STATUSES[(x % 5) as usize]}},
            "url": {"original": format!("/catalog/item/{}?ref=search", x % 5000), "path": format!("/catalog/item/{}", x % 5000)},
            "user_agent": {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
        }),
        7 | 8 => json!({
            "@timestamp": at, "event": {"id": format!("bench-{i}"), "action": "login", "category": "authentication", "outcome": if x.is_multiple_of(3) { "failure" } else { "success" }},
            "source": {"ip": ip}, "user": {"name": format!("user{}", x % 20_000), "email": format!("user{}@example.com", x % 20_000)},
            "session": {"id": format!("s{}", x % 50_000)}
        }),
        _ => json!({
            "@timestamp": at, "event": {"id": format!("bench-{i}"), "action": "payment_attempt", "category": "payment", "outcome": "success"},
            "source": {"ip": ip}, "order": {"id": format!("o{i}")}, "payment": {"amount": format!("{}.{:02}", x % 500, x % 100), "currency": "EUR", "outcome": "approved"},
            "user": {"id": format!("u{}", x % 20_000)}
        }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn bench_store(count: usize, batch: usize) -> Result<()> {
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let store = SqliteStore::open(&tmp.path().join("rampart.db"), SqliteOptions::default())?;
    let now = OffsetDateTime::now_utc();
    let events: Vec<Event> = (0..count).map(|i| Event::from_json_at(sample_event(i, now), now)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut chunks = events.into_iter().peekable();
    while chunks.peek().is_some() {
        store.append(chunks.by_ref().take(batch).collect())?;
    }
    let elapsed = started.elapsed();
    outln!(
        "store append: {count} events in batches of {batch}: {:.0} events/s ({:.2} s); {}",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        memory_line()
    );

    for (name, make) in [
        (
            "entity term (source.ip:...)",
            Box::new(|i: usize| format!("source.ip:198.51.{}.{}", i % 200, i % 250 + 1)) as Box<dyn Fn(usize) -> String>,
        ),
        ("scan filter (url.path:...)", Box::new(|i: usize| format!("url.path:/catalog/item/{}", i % 5000))),
    ] {
        let mut latencies = Vec::new();
        for i in 0..200 {
            let mut request = SearchRequest::new(Query::parse(&make(i))?);
            request.limit = 100;
            let t = Instant::now();
            store.search(&request)?;
            latencies.push(t.elapsed());
        }
        latencies.sort();
        outln!("search {name}, limit 100: p50 {:?}, p99 {:?}", percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    }
    Ok(())
}

fn bench_ingest(count: usize, batch: usize, clients: usize, rounds: usize) -> Result<()> {
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let mut config = ConfigFile::default().validate()?;
    config.data_dir = tmp.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (store, state) = super::serve::open(&config)?;
    let (token, hash) = rampart_server::auth::generate_token();
    store.create_token(NewToken { name: "bench".into(), hash, role: Role::Ingest, expires_at: None })?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/v1/events", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(rampart_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    outln!("before sending: {}", memory_line());

    // Every round's events are new and in time order, the last ones about an hour old.
    let base = OffsetDateTime::now_utc() - Duration::from_millis((count * rounds) as u64);
    for round in 0..rounds {
        let first = round * count;
        let bodies: Vec<String> = (0..count.div_ceil(batch))
            .map(|b| (first + b * batch..first + ((b + 1) * batch).min(count)).map(|i| sample_event(i, base).to_string() + "\n").collect())
            .collect();
        let bodies = Arc::new(bodies);
        let started = Instant::now();
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (bodies, url, token) = (bodies.clone(), url.clone(), token.clone());
                std::thread::spawn(move || -> Result<Vec<Duration>> {
                    let agent = ureq::Agent::new_with_defaults();
                    let mut latencies = Vec::new();
                    for body in bodies.iter().skip(c).step_by(clients) {
                        let t = Instant::now();
                        agent
                            .post(&url)
                            .header("Authorization", &format!("Bearer {token}"))
                            .header("Content-Type", "application/x-ndjson")
                            .send(body.as_str())
                            .context("a request failed")?;
                        latencies.push(t.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for worker in workers {
            latencies.extend(worker.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        drop(bodies);
        let stored = store.count_events()?;
        let label = if rounds > 1 { format!("round {}/{rounds}: ", round + 1) } else { String::new() };
        outln!(
            "{label}HTTP ingest: {count} events, {batch} per request, {clients} clients: {:.0} events/s ({:.2} s); request p50 {:?}, p99 {:?}; stored {stored}; {}",
            count as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            memory_line()
        );
    }
    let _ = stop.send(());
    runtime.block_on(server)??;
    Ok(())
}
