//! Measures `SqliteStore` appends of 1,000-event batches and searches over 200,000 stored events; run with `cargo bench -p rampart-store --bench store`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rampart_model::{Event, Query, format_timestamp};
use rampart_store::EventStore;
use rampart_store::{SearchRequest, SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use time::OffsetDateTime;

const BATCH: usize = 1_000;
const PREFILL: usize = 200_000;
const PREFILL_SPAN: Duration = Duration::from_secs(2 * 86_400);
/// Distinct client addresses: each one sends about a hundred of the pre-filled events.
const IPS: u64 = 2_000;

/// A small deterministic generator (xorshift64*), so every run stores the same events.
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

fn ip(k: u64) -> String {
    format!("203.0.{}.{}", k / 250, 1 + k % 250)
}

/// One already-masked shop event: 60% web requests, 20% logins, 20% payment attempts, about
/// 2% with a (masked) card number in a free-text note.
fn shop_event(rng: &mut Rng, at: OffsetDateTime, id: Option<String>) -> Event {
    let user = rng.pick(USERS);
    let mut value = match rng.below(10) {
        0..=5 => {
            let path = rng.pick(PATHS);
            json!({
                "event.action": "http_request",
                "url.original": format!("{path}?ref=campaign{}", rng.below(50)),
                "url.path": path,
                "http.request.method": rng.pick(METHODS),
                "http.response.status_code": STATUSES[rng.below(STATUSES.len() as u64) as usize],
                "user_agent.original": rng.pick(AGENTS),
            })
        }
        6 | 7 => json!({
            "event.action": "login",
            "user.name": user,
            "user.email": format!("{user}@example.com"),
            "event.outcome": if rng.below(5) == 0 { "failure" } else { "success" },
            "user_agent.original": rng.pick(AGENTS),
        }),
        _ => json!({
            "event.action": "payment_attempt",
            "user.name": user,
            "payment.amount": format!("{}.{:02}", 5 + rng.below(500), rng.below(100)),
            "payment.currency": "EUR",
            "order.id": format!("ORD-{:07}", rng.below(10_000_000)),
            "payment.outcome": "approved",
        }),
    };
    if rng.below(50) == 0 {
        value["note"] = json!("customer pasted card 411111******1111 into the gift message");
        value["payment.card.fingerprint"] = json!(format!("{:016x}", rng.next()));
        value["payment.card.bin"] = json!("411111");
        value["payment.card.last4"] = json!("1111");
    }
    value["@timestamp"] = Value::String(format_timestamp(at));
    value["source.ip"] = Value::String(ip(rng.below(IPS)));
    if let Some(id) = id {
        value["event.id"] = Value::String(id);
    }
    Event::from_json(value).expect("a valid shop event")
}

fn open_store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).expect("open the store")
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, client_ids) in [("batch_1000", true), ("batch_1000_generated_ids", false)] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open_store(&dir);
        let mut rng = Rng(0x00A9_9E4D);
        let mut next_id = 0u64;
        let mut make_batch = || {
            let now = OffsetDateTime::now_utc();
            (0..BATCH)
                .map(|_| {
                    next_id += 1;
                    let at = now - Duration::from_millis(rng.below(2_000)); // live traffic: nearly in time order
                    shop_event(&mut rng, at, client_ids.then(|| format!("bench_{next_id:09}")))
                })
                .collect::<Vec<_>>()
        };
        // Warm the store so the timed batches probe existing term tables for duplicates.
        store.append(make_batch()).expect("append the first batch");
        group.bench_function(name, |b| {
            b.iter_batched(
                &mut make_batch,
                |events| {
                    let outcome = store.append(events).expect("append a batch");
                    assert_eq!(outcome.stored, BATCH, "no event may be a duplicate");
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn bench_search(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = open_store(&dir);
    let mut rng = Rng(0x005E_A2C4);
    let start = OffsetDateTime::now_utc() - PREFILL_SPAN;
    let step_ms = PREFILL_SPAN.as_millis() as u64 / PREFILL as u64;
    for chunk in 0..PREFILL / 5_000 {
        let events = (chunk * 5_000..(chunk + 1) * 5_000)
            .map(|i| {
                let at = start + Duration::from_millis(i as u64 * step_ms + rng.below(step_ms));
                shop_event(&mut rng, at, Some(format!("prefill_{i:07}")))
            })
            .collect();
        store.append(events).expect("pre-fill the store");
    }
    assert_eq!(store.count_events().expect("count events"), PREFILL as u64);

    let cases = [("entity_term", format!("source.ip:{}", ip(7))), ("scan_filter", "url.path:/checkout".to_owned())];
    let mut group = c.benchmark_group("search");
    for (name, query) in cases {
        let request = SearchRequest { limit: 100, ..SearchRequest::new(Query::parse(&query).expect("a valid query")) };
        let found = store.search(&request).expect("search").items.len();
        assert!(found >= 50, "`{query}` found only {found} events");
        group.throughput(Throughput::Elements(found as u64));
        group.bench_function(name, |b| b.iter(|| store.search(black_box(&request)).expect("search")));
    }
    group.finish();
}

criterion_group!(benches, bench_append, bench_search);
criterion_main!(benches);
