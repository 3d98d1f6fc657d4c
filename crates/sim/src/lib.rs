//! Rampart's simulated shop: seeded traffic with labelled attacks, and detection scored against its
//! ground truth (the `rampart generate` command, the demo's traffic, attack drills).
//!
//! **Owns:** the simulated shop (`shop.example`: customers, catalogue, good bots, attackers), the
//! attack families ([`FAMILIES`]) and how each one behaves, the access-log format the generator
//! writes ([`ACCESS_LOG_FORMAT`], the `combined-truth` format of `rampart-ingest`), and the scoring
//! of detections against the labels ([`truth`]).
//!
//! **Must not touch:** parsing, detection, storage, HTTP or files: it yields records and scores
//! detections handed to it; the binary writes the records, ingests them and runs the detector.
//! Production parsers know nothing of its labels unless the `combined-truth` format is asked for.
//!
//! **Main types:** [`TrafficConfig`] → [`Generator`] (an iterator of [`Record`]s, each a
//! [`RecordKind::AccessLine`] or a [`RecordKind::ShopEvent`] with its `truth`); [`Truth`] and
//! [`TruthReport`] for the scores.
//!
//! **Flow:** [`Generator::new`] → records in time order → (the caller) access lines and shop events
//! ingested as events → every event to [`Truth::observe`] → the detections to [`Truth::score`] → a
//! [`TruthReport`] (recall and precision per family, detections on benign traffic alone).
//!
//! ```
//! use rampart_sim::{Generator, RecordKind, TrafficConfig};
//! use time::macros::datetime;
//!
//! let config = TrafficConfig {
//!     seed: 7,
//!     start: datetime!(2026-11-22 10:00 UTC),
//!     duration: std::time::Duration::from_secs(60),
//!     requests_per_second: 5.0,
//! };
//! let records: Vec<_> = Generator::new(config.clone()).collect();
//! assert_eq!(records, Generator::new(config).collect::<Vec<_>>()); // the same seed, the same traffic
//! assert!(records.windows(2).all(|pair| pair[0].time <= pair[1].time));
//! assert!(records.iter().any(|record| matches!(record.kind, RecordKind::AccessLine(_))));
//! ```
//!
//! # The generator
//!
//! A [`Generator`] simulates a shop (`shop.example`) with a few thousand customers, a catalogue, good
//! bots and attackers, and yields [`Record`]s in non-decreasing time order. It is streaming: future
//! records and the actors that will produce them wait in a binary heap keyed by time, so memory is
//! bounded by the number of concurrent sessions and attacks, not by the length of the run.
//!
//! Output is deterministic for a given seed and version of Rampart (the random stream comes from
//! `StdRng::seed_from_u64`; a change to the generator or to `rand` may change it).
//!
//! The simulation starts three minutes before `start` and drops what falls before it, so the run
//! opens with sessions already under way rather than an empty shop.
//!
//! Every attack family in [`FAMILIES`] starts once in every 5-minute window of generated time (a
//! run shorter than 5 minutes is one window; a trailing window shorter than a minute is skipped),
//! at a random moment in the first 60 % of the window, squeezed to fit before the end of the run.
//! Attack records carry their family in [`Record::truth`]; access lines carry it in their last
//! field (`$rampart_truth`, `-` for benign) and shop events in `rampart.truth`.
#![deny(missing_docs)]

mod attacks;
mod benign;
pub mod truth;
mod world;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub use truth::{FamilyScore, Truth, TruthReport, label_of};
use world::World;

/// The nginx `log_format` of the access lines: "combined" plus the ground-truth label.
pub const ACCESS_LOG_FORMAT: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$rampart_truth\"";

/// Every attack family label the generator uses, in the order attacks are scheduled.
pub const FAMILIES: &[&str] = &[
    "credential_stuffing",
    "brute_force",
    "card_testing",
    "sql_injection",
    "xss",
    "path_traversal",
    "sensitive_file_probe",
    "scanner",
    "scraping",
    "account_takeover",
    "admin_probe",
];

/// How much traffic to generate, from when, and with which seed.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Seeds every random choice: the same seed gives the same records.
    pub seed: u64,
    /// Time of the first possible record.
    pub start: OffsetDateTime,
    /// Length of the run; records fall in `[start, start + duration)`. Capped at 366 days.
    pub duration: std::time::Duration,
    /// Average benign web requests (access lines) per second, assets included; 0 gives attacks and bots only.
    pub requests_per_second: f64,
}

/// One generated record: when, what, and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When it happened.
    pub time: OffsetDateTime,
    /// An access line or a shop event.
    pub kind: RecordKind,
    /// The attack family (one of [`FAMILIES`]), `None` for benign traffic.
    pub truth: Option<&'static str>,
}

/// The two outputs of a shop: its web server's access log and its application events.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    /// One line in [`ACCESS_LOG_FORMAT`], without the newline.
    AccessLine(String),
    /// One shop event as sent to `POST /v1/events`, `event.dataset` = `shop`.
    ShopEvent(Value),
}

/// Benign access lines per session on average; sets the session arrival rate from the request rate.
const REQUESTS_PER_SESSION: f64 = 15.0;
/// Simulated time before `start` whose records are dropped, so the run opens with sessions already under way.
const WARMUP_MS: u64 = 3 * 60 * 1000;
/// Attacks start once per window of this many milliseconds.
const WINDOW_MS: u64 = 5 * 60 * 1000;
/// The longest run the generator accepts, in milliseconds (366 days).
const MAX_DURATION_MS: u64 = 366 * 86_400_000;

/// The streaming traffic generator: an iterator over time-ordered [`Record`]s.
#[derive(Debug)]
pub struct Generator {
    world: World,
    state: State,
    heap: BinaryHeap<Slot>,
    seq: u64,
    #[cfg(test)]
    max_pending: usize,
}

/// Something due at a time: a finished record, or an actor that will produce more.
#[derive(Debug)]
enum Task {
    Emit(Record),
    /// Starts a benign session and schedules the next arrival.
    Arrival,
    /// A good bot's next request.
    Crawl(benign::Bot),
    /// Starts the attacks of window `n`.
    Window(u64),
    /// Starts one attack of the family.
    AttackStart(attacks::Family),
    Session(Box<benign::Session>),
    Attack(Box<attacks::Attack>),
}

/// A heap entry; ordered so the earliest (then first scheduled) pops first.
#[derive(Debug)]
struct Slot {
    at: u64,
    seq: u64,
    task: Task,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Slot {}
impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the smallest (at, seq) is on top.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl Generator {
    /// Builds the world (customers, catalogue) from the seed and schedules the first arrivals.
    pub fn new(config: TrafficConfig) -> Generator {
        let world = World::new(&mut StdRng::seed_from_u64(config.seed));
        let duration_ms = u64::try_from(config.duration.as_millis()).unwrap_or(u64::MAX).min(MAX_DURATION_MS);
        let rate = if config.requests_per_second.is_finite() { config.requests_per_second.max(0.0) } else { 0.0 };
        let state = State {
            // A second stream, so the world and the traffic do not shift each other.
            rng: StdRng::seed_from_u64(config.seed ^ 0x5EED_7AFF_1C00_0001),
            start: config.start,
            end_ms: WARMUP_MS + duration_ms,
            session_gap_ms: if rate > 0.0 { REQUESTS_PER_SESSION * 1000.0 / rate } else { 0.0 },
            now: 0,
            out: Vec::new(),
            next_order: 100_000,
            next_user: 500_000,
            decline_streak: vec![0; world.customers.len()],
        };
        let mut generator = Generator {
            world,
            state,
            heap: BinaryHeap::new(),
            seq: 0,
            #[cfg(test)]
            max_pending: 0,
        };
        if rate > 0.0 {
            generator.state.schedule(0, Task::Arrival);
        }
        for bot in benign::Bot::ALL {
            let first = generator.state.rng.random_range(0..bot.mean_gap_ms());
            generator.state.schedule(first, Task::Crawl(bot));
        }
        generator.state.schedule(WARMUP_MS, Task::Window(0));
        generator.flush();
        generator
    }

    /// Entries waiting in the heap (records and actors): the generator's memory, in units.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.heap.len()
    }

    fn flush(&mut self) {
        for (at, task) in self.state.out.drain(..) {
            self.seq += 1;
            self.heap.push(Slot { at, seq: self.seq, task });
        }
        #[cfg(test)]
        {
            self.max_pending = self.max_pending.max(self.heap.len());
        }
    }

    fn run(&mut self, at: u64, task: Task) {
        let (world, st) = (&self.world, &mut self.state);
        st.now = at;
        match task {
            Task::Emit(_) => {}
            Task::Arrival => benign::arrival(at, world, st),
            Task::Crawl(bot) => benign::crawl(at, bot, st),
            Task::Window(n) => attacks::window(at, n, st),
            Task::AttackStart(family) => attacks::start(at, family, world, st),
            Task::Session(session) => session.step(at, world, st),
            Task::Attack(attack) => attack.step(at, world, st),
        }
        self.flush();
    }
}

impl Iterator for Generator {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        while let Some(slot) = self.heap.pop() {
            if slot.at >= self.state.end_ms {
                // Everything left is at least as late: the run is over.
                self.heap.clear();
                return None;
            }
            match slot.task {
                Task::Emit(record) => return Some(record),
                task => self.run(slot.at, task),
            }
        }
        None
    }
}

/// The mutable side of the simulation, lent to actors while they run.
#[derive(Debug)]
struct State {
    rng: StdRng,
    /// The wall-clock time of `WARMUP_MS` on the simulation clock (milliseconds from the warm-up's start).
    start: OffsetDateTime,
    end_ms: u64,
    /// Mean milliseconds between benign session arrivals (0: none).
    session_gap_ms: f64,
    /// The time of the running task: nothing may be scheduled before it.
    now: u64,
    /// Tasks scheduled by the running actor, moved into the heap after it returns.
    out: Vec<(u64, Task)>,
    next_order: u64,
    next_user: u64,
    /// Declined payments in a row per customer, so no account sees more than two.
    decline_streak: Vec<u8>,
}

/// Who sends a request: the network, browser and session the shop sees.
#[derive(Debug, Clone)]
struct Client {
    ip: IpAddr,
    ua: &'static str,
    session: String,
    /// The fraud script's device id; absent for clients that run no JavaScript.
    device: Option<String>,
}

/// A request as logged: method, target (path and query, as sent), status and sizes.
#[derive(Debug, Clone)]
struct Req<'a> {
    method: &'a str,
    target: &'a str,
    proto: &'a str,
    status: u16,
    bytes: u64,
    referer: Option<&'a str>,
}

impl<'a> Req<'a> {
    fn get(target: &'a str, status: u16, bytes: u64) -> Req<'a> {
        Req { method: "GET", target, proto: "HTTP/1.1", status, bytes, referer: None }
    }
    fn post(target: &'a str, status: u16, bytes: u64) -> Req<'a> {
        Req { method: "POST", ..Req::get(target, status, bytes) }
    }
    fn from(self, referer: Option<&'a str>) -> Req<'a> {
        Req { referer, ..self }
    }
}

/// The `event.*` header of a shop event.
#[derive(Debug, Clone, Copy)]
struct Kind {
    action: &'static str,
    category: &'static str,
    kind: &'static str,
    outcome: &'static str,
}

const fn kind(action: &'static str, category: &'static str, kind: &'static str, outcome: &'static str) -> Kind {
    Kind { action, category, kind, outcome }
}

const LOGIN_OK: Kind = kind("login", "authentication", "start", "success");
const LOGIN_FAILED: Kind = kind("login", "authentication", "start", "failure");
const LOGOUT: Kind = kind("logout", "authentication", "end", "success");
const SIGNUP_OK: Kind = kind("signup", "iam", "creation", "success");
const SIGNUP_FAILED: Kind = kind("signup", "iam", "creation", "failure");
const RESET_REQUEST: Kind = kind("password_reset_request", "iam", "info", "success");
const RESET_DONE: Kind = kind("password_reset", "iam", "change", "success");
const EMAIL_CHANGE: Kind = kind("email_change", "iam", "change", "success");
const ADDRESS_CHANGE: Kind = kind("address_change", "iam", "change", "success");
const PASSWORD_CHANGE: Kind = kind("password_change", "iam", "change", "success");
const ORDER_PLACED: Kind = kind("order_placed", "order", "creation", "success");
const PAYMENT_APPROVED: Kind = kind("payment_attempt", "payment", "allowed", "success");
const PAYMENT_DECLINED: Kind = kind("payment_attempt", "payment", "denied", "failure");

impl State {
    fn time(&self, at: u64) -> OffsetDateTime {
        // `at` is below WARMUP_MS + MAX_DURATION_MS, so it fits an i64.
        let offset = i64::try_from(at.saturating_sub(WARMUP_MS)).unwrap_or(i64::MAX);
        self.start.saturating_add(time::Duration::milliseconds(offset))
    }

    fn schedule(&mut self, at: u64, task: Task) {
        self.out.push((at.max(self.now), task));
    }

    fn remaining(&self, at: u64) -> u64 {
        self.end_ms.saturating_sub(at)
    }

    /// A uniformly random element; every list passed here is a non-empty constant or world table.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick_ref(items)
    }

    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.rng.random_range(low..=high.max(low))
    }

    /// An exponentially distributed gap (a Poisson process) with the given mean.
    fn exp_ms(&mut self, mean_ms: f64) -> u64 {
        let u: f64 = self.rng.random();
        (-(1.0 - u).ln() * mean_ms) as u64
    }

    fn hex_id(&mut self, prefix: &str, digits: usize) -> String {
        let value: u64 = self.rng.random();
        let mut id = format!("{prefix}{value:016x}");
        id.truncate(prefix.len() + digits.min(16));
        id
    }

    fn order_id(&mut self) -> String {
        self.next_order += 1;
        format!("o-{}", self.next_order)
    }

    fn line(&mut self, at: u64, client: &Client, req: &Req<'_>, truth: Option<&'static str>) {
        let at = at.max(self.now);
        if at < WARMUP_MS {
            return;
        }
        let line = access_line(self.time(at), client.ip, req, client.ua, truth);
        self.schedule(at, Task::Emit(Record { time: self.time(at), kind: RecordKind::AccessLine(line), truth }));
    }

    /// Emits a shop event; `user` is a `user` object (or null) and `extra` more fields, merged in.
    fn event(&mut self, at: u64, client: &Client, kind: Kind, user: Value, extra: Value, truth: Option<&'static str>) {
        let at = at.max(self.now);
        if at < WARMUP_MS {
            return;
        }
        let time = self.time(at);
        let mut event = Map::new();
        event.insert("@timestamp".into(), rampart_model::format_timestamp(time).into());
        event.insert(
            "event".into(),
            json!({"kind": "event", "category": kind.category, "type": kind.kind, "action": kind.action,
                   "outcome": kind.outcome, "dataset": "shop"}),
        );
        event.insert("source".into(), json!({"ip": client.ip.to_string()}));
        event.insert("user_agent".into(), json!({"original": client.ua}));
        event.insert("session".into(), json!({"id": client.session}));
        if let Some(device) = &client.device {
            event.insert("device".into(), json!({"id": device}));
        }
        if user.is_object() {
            event.insert("user".into(), user);
        }
        let mut event = Value::Object(event);
        merge(&mut event, extra);
        if let (Some(truth), Value::Object(map)) = (truth, &mut event) {
            map.insert("rampart".into(), json!({"truth": truth}));
        }
        self.schedule(at, Task::Emit(Record { time, kind: RecordKind::ShopEvent(event), truth }));
    }
}

/// Deep-merges `extra` into `base` (objects merge key by key; anything else replaces).
fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (key, value) in extra {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (base, extra) => *base = extra,
    }
}

/// Formats one access line in [`ACCESS_LOG_FORMAT`].
fn access_line(time: OffsetDateTime, ip: IpAddr, req: &Req<'_>, ua: &str, truth: Option<&str>) -> String {
    let mut line = String::with_capacity(160 + req.target.len() + ua.len());
    let _ = write!(line, "{ip} - - [{}] \"", time_local(time));
    escape_into(&mut line, req.method);
    line.push(' ');
    escape_into(&mut line, req.target);
    line.push(' ');
    escape_into(&mut line, req.proto);
    let _ = write!(line, "\" {} {} \"", req.status, req.bytes);
    escape_into(&mut line, req.referer.unwrap_or("-"));
    line.push_str("\" \"");
    escape_into(&mut line, ua);
    line.push_str("\" \"");
    escape_into(&mut line, truth.unwrap_or("-"));
    line.push('"');
    line
}

/// nginx's `$time_local` in UTC: `22/Nov/2026:10:00:03 +0000`.
fn time_local(time: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t = time.to_offset(time::UtcOffset::UTC);
    let month = MONTHS.get(usize::from(u8::from(t.month())).saturating_sub(1)).copied().unwrap_or("Jan");
    format!("{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000", t.day(), t.year(), t.hour(), t.minute(), t.second())
}

/// nginx's access-log escaping: `"`, `\` and bytes outside printable ASCII become `\xHH`.
fn escape_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            let _ = write!(out, "\\x{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
}
