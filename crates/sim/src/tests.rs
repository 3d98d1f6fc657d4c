//! Tests for the traffic generator: determinism, order, labels, formats, cards, rates and memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::OnceLock;

use time::macros::datetime;

use super::attacks::Family;
use super::world::{BENIGN_CARDS, EMAIL_DOMAINS};
use super::*;

const START: OffsetDateTime = datetime!(2026-11-22 10:00:00 UTC);

fn config(seed: u64, minutes: u64, rate: f64) -> TrafficConfig {
    TrafficConfig { seed, start: START, duration: std::time::Duration::from_secs(minutes * 60), requests_per_second: rate }
}

/// Ten minutes at the default rate, generated once for the tests that only read it.
fn ten_minutes() -> &'static [Record] {
    static RUN: OnceLock<Vec<Record>> = OnceLock::new();
    RUN.get_or_init(|| Generator::new(config(1, 10, 20.0)).collect())
}

fn event(record: &Record) -> Option<&Value> {
    match &record.kind {
        RecordKind::ShopEvent(event) => Some(event),
        RecordKind::AccessLine(_) => None,
    }
}

fn line(record: &Record) -> Option<&str> {
    match &record.kind {
        RecordKind::AccessLine(line) => Some(line),
        RecordKind::ShopEvent(_) => None,
    }
}

fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != number.len() || !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 =
        digits.iter().rev().enumerate().map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }).sum();
    sum.is_multiple_of(10)
}

/// Splits an access line into its 10 fields without a regex: quoted fields hold no raw `"` (nginx escapes it).
fn split_line(line: &str) -> Vec<&str> {
    fn quoted<'a>(rest: &mut &'a str) -> &'a str {
        let inner = rest.strip_prefix('"').expect("a quoted field");
        let (field, after) = inner.split_once('"').expect("a closing quote");
        *rest = after.strip_prefix(' ').unwrap_or(after);
        field
    }
    fn word<'a>(rest: &mut &'a str) -> &'a str {
        let (field, after) = rest.split_once(' ').expect("a space-separated field");
        *rest = after;
        field
    }
    let mut rest = line;
    let mut fields = vec![word(&mut rest), word(&mut rest), word(&mut rest)];
    let (time, after) = rest.strip_prefix('[').and_then(|r| r.split_once("] ")).expect("a [time] field");
    fields.push(time);
    rest = after;
    fields.push(quoted(&mut rest));
    fields.push(word(&mut rest));
    fields.push(word(&mut rest));
    fields.push(quoted(&mut rest));
    fields.push(quoted(&mut rest));
    fields.push(quoted(&mut rest));
    assert_eq!(rest, "", "nothing after the truth field in {line}");
    fields
}

#[test]
fn family_labels_match_families() {
    let labels: Vec<&str> = Family::ALL.iter().map(|f| f.label()).collect();
    assert_eq!(labels, FAMILIES);
}

#[test]
fn same_seed_gives_same_records_and_another_seed_does_not() {
    let again: Vec<Record> = Generator::new(config(1, 10, 20.0)).take(2000).collect();
    assert_eq!(again.len(), 2000);
    assert_eq!(again, ten_minutes()[..2000]);
    let other: Vec<Record> = Generator::new(config(2, 10, 20.0)).take(2000).collect();
    assert_ne!(other, again);
}

#[test]
fn records_come_in_time_order_within_the_run() {
    let records = ten_minutes();
    assert!(records.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(records.first().unwrap().time >= START);
    assert!(records.last().unwrap().time < START + time::Duration::minutes(10));
}

#[test]
fn benign_rate_is_close_to_the_requested_rate() {
    let benign = ten_minutes().iter().filter(|r| r.truth.is_none() && line(r).is_some()).count();
    // 20 requests/s for 600 s, give or take the randomness of a few hundred sessions.
    assert!((9_000..=15_000).contains(&benign), "{benign} benign access lines");
}

#[test]
fn every_family_appears_in_ten_minutes_with_a_plausible_count() {
    let mut lines: BTreeMap<&str, usize> = BTreeMap::new();
    let mut events: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for record in ten_minutes() {
        let Some(family) = record.truth else { continue };
        match &record.kind {
            RecordKind::AccessLine(_) => *lines.entry(family).or_default() += 1,
            RecordKind::ShopEvent(e) => *events.entry((family, e["event"]["action"].as_str().unwrap().to_string())).or_default() += 1,
        }
    }
    let count = |family: &str| lines.get(family).copied().unwrap_or(0);
    let action = |family: &str, action: &str| events.get(&(family, action.to_string())).copied().unwrap_or(0);
    // Two windows: each family runs twice.
    assert!(action("credential_stuffing", "login") >= 80, "{events:?}");
    assert_eq!(count("credential_stuffing"), action("credential_stuffing", "login"));
    assert!(action("brute_force", "login") >= 60);
    assert!(action("card_testing", "payment_attempt") >= 50);
    assert!(action("card_testing", "order_placed") >= 2);
    assert!(count("sql_injection") >= 20);
    assert!(count("xss") >= 16);
    assert!(count("path_traversal") >= 16);
    assert!(count("sensitive_file_probe") >= 30);
    assert!(count("admin_probe") >= 12);
    assert!(count("scanner") >= 2);
    assert!((400..=4_000).contains(&count("scraping")), "{lines:?}");
    for step in ["login", "email_change", "address_change", "order_placed", "payment_attempt"] {
        assert_eq!(action("account_takeover", step), 2, "account_takeover {step}: {events:?}");
    }
    for family in FAMILIES {
        assert!(count(family) > 0, "{family} has no access lines");
    }
    let attack_lines: usize = lines.values().sum();
    let all_lines = ten_minutes().iter().filter(|r| line(r).is_some()).count();
    assert!(attack_lines * 3 < all_lines, "{attack_lines} of {all_lines} lines are attacks");
}

#[test]
fn a_one_minute_run_has_every_family() {
    let seen: HashSet<&str> = Generator::new(config(9, 1, 20.0)).filter_map(|r| r.truth).collect();
    let expected: HashSet<&str> = FAMILIES.iter().copied().collect();
    assert_eq!(seen, expected);
}

#[test]
fn shop_events_carry_truth_only_on_attacks() {
    let mut benign = 0;
    for record in ten_minutes() {
        let Some(event) = event(record) else { continue };
        assert_eq!(event["event"]["dataset"], "shop");
        assert_eq!(event["event"]["kind"], "event");
        assert_eq!(event["@timestamp"], rampart_model::format_timestamp(record.time));
        match record.truth {
            None => {
                benign += 1;
                assert!(event.get("rampart").is_none(), "{event}");
            }
            Some(family) => assert_eq!(event["rampart"]["truth"], family),
        }
    }
    assert!(benign > 300, "{benign} benign events");
}

#[test]
fn every_card_number_is_luhn_valid_and_benign_buyers_use_public_test_cards() {
    let mut tested = Vec::new();
    for record in ten_minutes() {
        let Some(number) = event(record).and_then(|e| e["payment"]["card"]["number"].as_str()) else { continue };
        assert!(luhn_valid(number), "{number}");
        match record.truth {
            None | Some("account_takeover") => assert!(BENIGN_CARDS.contains(&number), "{number}"),
            Some(family) => {
                assert_eq!(family, "card_testing");
                assert_eq!(number.len(), 16);
                assert!(["400000", "411111", "424242", "555555", "510510"].iter().any(|bin| number.starts_with(bin)), "{number}");
                tested.push(number);
            }
        }
    }
    let distinct: HashSet<_> = tested.iter().collect();
    assert!(distinct.len() * 10 >= tested.len() * 9, "{} distinct of {}", distinct.len(), tested.len());
}

#[test]
fn access_lines_split_into_ten_fields_with_their_truth() {
    for record in ten_minutes() {
        let Some(text) = line(record) else { continue };
        let fields = split_line(text);
        assert_eq!(fields.len(), 10, "{text}");
        assert!(fields[0].parse::<IpAddr>().is_ok(), "{text}");
        assert_eq!((fields[1], fields[2]), ("-", "-"));
        assert_eq!(fields[3], time_local(record.time));
        assert_eq!(fields[4].split(' ').count(), 3, "{text}");
        assert!(fields[5].parse::<u16>().is_ok_and(|s| (100..600).contains(&s)), "{text}");
        assert!(fields[6].parse::<u64>().is_ok(), "{text}");
        assert_eq!(fields[9], record.truth.unwrap_or("-"), "{text}");
    }
}

#[test]
fn access_lines_follow_nginx_escaping_and_time_format() {
    let client = Client { ip: "203.0.113.7".parse().unwrap(), ua: "Mozilla/5.0 (X11)", session: String::new(), device: None };
    let req = Req::get("/search?q=\"><x>\\\n\u{e9}", 200, 5123).from(Some("https://shop.example/category/shoes"));
    let line = access_line(datetime!(2026-11-22 10:00:03.512 UTC), client.ip, &req, client.ua, None);
    assert_eq!(
        line,
        "203.0.113.7 - - [22/Nov/2026:10:00:03 +0000] \"GET /search?q=\\x22><x>\\x5C\\x0A\\xC3\\xA9 HTTP/1.1\" 200 5123 \
         \"https://shop.example/category/shoes\" \"Mozilla/5.0 (X11)\" \"-\""
    );
    let line =
        access_line(datetime!(2026-01-05 23:59:59 +01:00), client.ip, &Req::post("/account/login", 401, 0), "-", Some("brute_force"));
    assert_eq!(line, "203.0.113.7 - - [05/Jan/2026:22:59:59 +0000] \"POST /account/login HTTP/1.1\" 401 0 \"-\" \"-\" \"brute_force\"");
}

#[test]
fn benign_traffic_carries_no_attack_markers() {
    const MARKERS: &[&str] = &[
        "passwd",
        "<script",
        "%3Cscript",
        "UNION",
        "SLEEP(",
        "onerror",
        "javascript:",
        "/.env",
        "/.git",
        "wp-",
        "sqlmap",
        "Nikto",
        "..",
        "%2e%2e",
        "phpmyadmin",
        "python-requests",
        "Scrapy",
    ];
    let mut failures_per_ip: HashMap<String, usize> = HashMap::new();
    for record in ten_minutes().iter().filter(|r| r.truth.is_none()) {
        match &record.kind {
            RecordKind::AccessLine(text) => {
                for marker in MARKERS {
                    assert!(!text.contains(marker), "benign line has {marker}: {text}");
                }
            }
            RecordKind::ShopEvent(e) => {
                if e["event"]["action"] == "login" && e["event"]["outcome"] == "failure" {
                    *failures_per_ip.entry(e["source"]["ip"].as_str().unwrap().to_string()).or_default() += 1;
                }
            }
        }
    }
    assert!(failures_per_ip.values().all(|n| *n <= 2), "{failures_per_ip:?}");
}

#[test]
fn customers_are_spread_over_public_networks_with_example_addresses() {
    let world = World::new(&mut StdRng::seed_from_u64(1));
    assert_eq!(world.customers.len(), 3000);
    let emails: HashSet<&str> = world.customers.iter().map(|c| c.email.as_str()).collect();
    assert_eq!(emails.len(), 3000);
    let mut networks = HashSet::new();
    for customer in &world.customers {
        assert!(EMAIL_DOMAINS.iter().any(|d| customer.email.ends_with(&format!("@{d}"))), "{}", customer.email);
        match customer.home_ip {
            IpAddr::V4(ip) => {
                let [a, b, ..] = ip.octets();
                assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_documentation() && a != 0 && a < 224, "{ip}");
                assert!(!(a == 100 && (64..128).contains(&b)), "{ip} is carrier-grade NAT");
                networks.insert((a, b));
            }
            IpAddr::V6(ip) => assert!(ip.segments()[0] & 0xe000 == 0x2000, "{ip} is not global unicast"),
        }
        assert!(!customer.devices.is_empty());
    }
    assert!(networks.len() >= 40, "{} /16s", networks.len());
}

/// What the hour-long run showed: the heap's high-water mark and the benign payments.
#[derive(Debug)]
struct Hour {
    records: usize,
    max_pending: usize,
    payments: usize,
    declined: usize,
    worst_streak: usize,
}

fn hour() -> &'static Hour {
    static HOUR: OnceLock<Hour> = OnceLock::new();
    HOUR.get_or_init(|| {
        // A lower rate keeps the test fast; memory is about the run's length, not its rate.
        let mut generator = Generator::new(config(3, 60, 8.0));
        let (mut records, mut payments, mut declined, mut worst_streak) = (0, 0, 0, 0);
        let mut streaks: HashMap<String, usize> = HashMap::new();
        for record in generator.by_ref() {
            records += 1;
            let Some(e) = event(&record).filter(|_| record.truth.is_none()) else { continue };
            if e["event"]["action"] != "payment_attempt" {
                continue;
            }
            payments += 1;
            let user = e["user"]["id"].as_str().unwrap_or_default().to_string();
            let streak = streaks.entry(user).or_default();
            if e["payment"]["outcome"] == "declined" {
                declined += 1;
                *streak += 1;
                worst_streak = worst_streak.max(*streak);
            } else {
                *streak = 0;
            }
        }
        assert_eq!(generator.pending(), 0, "the heap is emptied at the end");
        Hour { records, max_pending: generator.max_pending, payments, declined, worst_streak }
    })
}

#[test]
fn an_hour_streams_in_bounded_memory() {
    let hour = hour();
    // About 30k benign lines plus attacks and events, with a few hundred entries waiting at once.
    assert!(hour.records > 40_000, "{hour:?}");
    assert!(hour.max_pending < 1_000, "{hour:?}");
}

#[test]
fn benign_payments_are_rarely_declined_and_never_three_times_in_a_row() {
    let hour = hour();
    assert!(hour.payments >= 120, "{hour:?}");
    assert!(hour.declined * 100 < hour.payments * 6, "{hour:?}");
    assert!(hour.declined > 0, "{hour:?}");
    assert!(hour.worst_streak <= 2, "{hour:?}");
}

#[test]
fn rampart_model_accepts_every_shop_event() {
    for record in ten_minutes() {
        let Some(json) = event(record) else { continue };
        let event = rampart_model::Event::from_json(json.clone()).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(event.timestamp(), record.time.replace_nanosecond(record.time.millisecond() as u32 * 1_000_000).unwrap());
        for (amount, currency) in [("payment.amount", "payment.currency"), ("order.amount", "order.currency")] {
            if let Some(value) = json.pointer(&format!("/{}", amount.replace('.', "/"))) {
                let minor = event.money(amount).unwrap_or_else(|| panic!("{amount} of {json}")).minor;
                assert_eq!(minor as f64, (value.as_f64().unwrap() * 100.0).round(), "{json}");
                assert!(json.pointer(&format!("/{}", currency.replace('.', "/"))).is_some());
            }
        }
    }
}
