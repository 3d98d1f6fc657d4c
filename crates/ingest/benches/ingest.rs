//! Measures NDJSON ingestion (parse, mask, validate) of 10,000 shop events, access-log lines on
//! the hot path and on the way to storage, and `mask_pans`; run with
//! `cargo bench -p rampart-ingest --bench ingest`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_ingest::{
    AccessRecord, CardProtector, ClientIpResolver, ClientIpSource, Format, IngestConfig, Ingestor, LineFormat, LogFormats, mask_pans,
    may_contain_pan,
};
use rampart_model::format_timestamp;
use time::OffsetDateTime;

const EVENTS: usize = 10_000;

/// A small deterministic generator (xorshift64*), so every run ingests the same body.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const PATHS: &[&str] =
    &["/", "/products/espresso-machine", "/products/grinder", "/cart", "/checkout", "/search", "/account", "/api/v1/stock"];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT"];
const STATUSES: &[u16] = &[200, 200, 200, 200, 301, 304, 404, 403, 500];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "python-requests/2.32.3",
];
const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const CARDS: &[&str] = &["4111 1111 1111 1111", "5555-5555-5555-4444", "4242424242424242"];

/// One NDJSON line per event: 60% web requests, 20% logins, 20% payment attempts; about 2%
/// of events carry a test card number in a free-text note. Times lie in the hour before `now`.
fn ndjson_body(now: OffsetDateTime, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut body = String::with_capacity(EVENTS * 400);
    for i in 0..EVENTS {
        let ts = format_timestamp(now - time::Duration::milliseconds(rng.below(3_600_000) as i64));
        let ip = format!("{}.{}.{}.{}", 1 + rng.below(223), rng.below(256), rng.below(256), 1 + rng.below(254));
        let user = rng.pick(USERS);
        let _ = write!(body, r#"{{"@timestamp":"{ts}","event.id":"evt_{i:05}","source.ip":"{ip}","#);
        match rng.below(10) {
            0..=5 => {
                let path = rng.pick(PATHS);
                let status = STATUSES[rng.below(STATUSES.len() as u64) as usize];
                let _ = write!(
                    body,
                    r#""event.action":"http_request","url.original":"{path}?ref=campaign{}","url.path":"{path}","http.request.method":"{}","http.response.status_code":{status},"user_agent.original":"{}""#,
                    rng.below(50),
                    rng.pick(METHODS),
                    rng.pick(AGENTS),
                );
            }
            6 | 7 => {
                let outcome = if rng.below(5) == 0 { "failure" } else { "success" };
                let _ = write!(
                    body,
                    r#""event.action":"login","user.name":"{user}","user.email":"{user}@example.com","event.outcome":"{outcome}","user_agent.original":"{}""#,
                    rng.pick(AGENTS),
                );
            }
            _ => {
                let _ = write!(
                    body,
                    r#""event.action":"payment_attempt","user.name":"{user}","payment.amount":"{}.{:02}","payment.currency":"EUR","order.id":"ORD-{:07}","payment.outcome":"approved""#,
                    5 + rng.below(500),
                    rng.below(100),
                    rng.below(10_000_000),
                );
            }
        }
        if rng.below(50) == 0 {
            let _ = write!(body, r#","note":"customer pasted card {} into the gift message""#, rng.pick(CARDS));
        }
        body.push_str("}\n");
    }
    body.into_bytes()
}

fn bench_ingest(c: &mut Criterion) {
    let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(&[7u8; 32]));
    let now = OffsetDateTime::now_utc();
    let body = ndjson_body(now, 0x5EED_CAFE);

    let batch = ingestor.ingest(Format::Ndjson, &body, now);
    assert!(batch.errors.is_empty(), "the generated body has refused records: {:?}", &batch.errors[..batch.errors.len().min(3)]);
    assert_eq!(batch.events.len(), EVENTS);
    let notes = batch.events.iter().filter(|e| e.get("note").is_some()).count();
    let masked = batch.events.iter().filter(|e| e.get_str("payment.card.last4").is_some()).count();
    assert!(notes > 0 && masked == notes, "{notes} card notes but {masked} masked events");

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("ndjson_10k_events", |b| b.iter(|| ingestor.ingest(Format::Ndjson, black_box(&body), now)));
    group.finish();
}

const QUERIES: &[&str] = &["", "", "", "?page=2", "?q=red+shoes&sort=price", "?utm_source=newsletter&utm_medium=email&utm_campaign=bf26"];

/// `combined` lines as nginx writes them: spread IPs, paths, statuses and browsers; one line in
/// 500 carries a test card number in its query.
fn combined_lines(seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..EVENTS)
        .map(|i| {
            let ip = format!("{}.{}.{}.{}", 1 + rng.below(223), rng.below(256), rng.below(256), 1 + rng.below(254));
            let second = i / 20;
            let query = if rng.below(500) == 0 { "?card=4111111111111111" } else { rng.pick(QUERIES) };
            format!(
                r#"{ip} - - [22/Nov/2026:10:{:02}:{:02} +0000] "{} {}{query} HTTP/1.1" {} {} "https://shop.example.com{}" "{}""#,
                second / 60 % 60,
                second % 60,
                rng.pick(METHODS),
                rng.pick(PATHS),
                STATUSES[rng.below(STATUSES.len() as u64) as usize],
                rng.below(100_000),
                rng.pick(PATHS),
                rng.pick(AGENTS),
            )
        })
        .collect()
}

/// The hot path of one line: card scan, split by the format, client resolution. Lines with a
/// possible card number take the masking path (and allocate); the rest borrow.
fn scan_line<'a>(format: &'a rampart_ingest::LogFormat, resolver: &ClientIpResolver, line: &'a str) -> Option<AccessRecord<'a>> {
    if may_contain_pan(line.as_bytes()) && mask_pans(line).is_some() {
        return None; // counted apart; the storage path handles it
    }
    let mut record = format.parse_line(line).ok()?;
    record.resolve_client(resolver);
    Some(record)
}

fn bench_access_log(c: &mut Criterion) {
    let lines = combined_lines(0xACCE55);
    let Some(LineFormat::Text(format)) = LogFormats::default().get("combined") else { unreachable!("combined is built in") };
    let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse().expect("a CIDR")], vec![ClientIpSource::XForwardedFor]);
    let parsed = lines.iter().filter(|line| scan_line(&format, &resolver, line).is_some()).count();
    assert!(parsed > EVENTS * 99 / 100, "only {parsed} lines parsed");

    let mut group = c.benchmark_group("access_log");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("combined_parse_scan_10k", |b| {
        b.iter(|| {
            let mut statuses = 0u64;
            for line in &lines {
                if let Some(record) = scan_line(&format, &resolver, black_box(line)) {
                    statuses += u64::from(record.status.unwrap_or(0));
                }
            }
            statuses
        })
    });
    let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(&[7u8; 32]));
    let body = lines.join("\n");
    let now = OffsetDateTime::now_utc();
    let combined = LineFormat::Text(format.clone());
    group.bench_function("combined_to_events_10k", |b| {
        b.iter(|| ingestor.ingest_lines(&combined, black_box(body.as_bytes()), now, false, None))
    });
    group.finish();
}

fn bench_mask_pans(c: &mut Criterion) {
    let no_digits = "Customer asked whether the espresso machine ships with a spare portafilter basket and \
                     descaling tablets; please follow up by e-mail before dispatch and confirm the delivery \
                     window with the courier.";
    let with_card = "Customer asked whether the espresso machine ships with a spare portafilter basket; \
                     they pasted 4111 1111 1111 1111 into the gift message by mistake, please follow up \
                     by e-mail before dispatch.";
    assert!(mask_pans(no_digits).is_none());
    assert!(mask_pans(with_card).is_some());

    let mut group = c.benchmark_group("mask_pans");
    group.throughput(Throughput::Bytes(no_digits.len() as u64));
    group.bench_function("no_digits", |b| b.iter(|| mask_pans(black_box(no_digits))));
    group.throughput(Throughput::Bytes(with_card.len() as u64));
    group.bench_function("with_card", |b| b.iter(|| mask_pans(black_box(with_card))));
    group.finish();
}

criterion_group!(benches, bench_ingest, bench_access_log, bench_mask_pans);
criterion_main!(benches);
