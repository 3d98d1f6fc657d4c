//! `rampart alerts`: listing with filters, showing, and the lifecycle on the data directory.

use std::path::Path;
use std::process::{Command, Output};

use super::{BIN, SQLI_RULE, setup};

/// `rampart` run as the OS user `tester`.
fn as_tester(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("RUST_LOG").env("USER", "tester").output().expect("run rampart")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `combined` line from `ip` with a union select, at second `s` of a fixed minute.
fn sqli(ip: &str, s: u32) -> String {
    format!(r#"{ip} - - [03/Mar/2024:10:00:{s:02} +0000] "GET /search?q=1%20UNION%20SELECT%20card&s={s} HTTP/1.1" 200 10 "-" "curl/8""#)
}

fn alerts_json(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["alerts", "list", "--json", "--rule", "test-union-select"];
    all.extend_from_slice(args);
    let out = as_tester(dir, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out).lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn alerts_are_listed_shown_and_triaged_from_the_cli() {
    let (dir, _) = setup();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("data/rules")).unwrap();
    std::fs::write(dir.join("data/rules/mine.yml"), SQLI_RULE).unwrap();
    let log: String = [sqli("198.51.100.1", 1), sqli("198.51.100.1", 2), sqli("198.51.100.2", 3), sqli("198.51.100.1", 4)]
        .iter()
        .map(|l| l.clone() + "\n")
        .collect();
    std::fs::write(dir.join("access.log"), log).unwrap();
    let out = as_tester(dir, &["replay", "access.log", "--format", "combined"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Repeats from one address are one alert; the other address has its own.
    let alerts = alerts_json(dir, &[]);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let first = alerts.iter().find(|a| a["entities"][0]["value"] == "198.51.100.1").unwrap();
    assert_eq!((first["event_count"].as_u64(), first["status"].as_str()), (Some(3), Some("open")));
    assert_eq!(first["first_event_time"], "2024-03-03T10:00:01.000Z");
    assert_eq!(first["last_event_time"], "2024-03-03T10:00:04.000Z");
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(alerts_json(dir, &["--entity", "ip:198.51.100.1"]).len(), 1);
    assert_eq!(alerts_json(dir, &["--entity", "198.51.100.2"]).len(), 1);
    assert_eq!(alerts_json(dir, &["--level", "high", "--status", "open", "--from", "2024-03-03T10:00:04Z"]).len(), 1);
    assert_eq!(alerts_json(dir, &["--to", "2024-03-03T09:00:00Z"]).len(), 0);
    assert_eq!(alerts_json(dir, &["--limit", "1"]).len(), 1);
    let table = stdout(&as_tester(dir, &["alerts", "list", "--rule", "test-union-select"]));
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.lines().any(|l| l.starts_with(&id) && l.contains("open") && l.contains("ip:198.51.100.1")), "{table}");

    let shown = stdout(&as_tester(dir, &["alerts", "show", &id]));
    assert!(shown.contains("Union select in the URL (test-union-select) [high]"), "{shown}");
    assert!(shown.contains("created      by rampart (+2 events)") || shown.contains("created      by rampart (+3 events)"), "{shown}");
    assert!(shown.contains("evidence (3 of 3 events)"), "{shown}");

    // The lifecycle: acknowledge, a refused repeat, close (with a classification), reopen.
    let out = as_tester(dir, &["alerts", "ack", &id, "--note", "on it"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("{id} acknowledged"));
    let again = as_tester(dir, &["alerts", "ack", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("only open alerts can be acknowledged"), "{}", stderr(&again));
    assert_eq!(as_tester(dir, &["alerts", "close", &id]).status.code(), Some(2), "close needs --as");
    assert_eq!(as_tester(dir, &["alerts", "close", &id, "--as", "maybe"]).status.code(), Some(2));
    let out = as_tester(dir, &["alerts", "close", &id, "--as", "true_positive", "--actor", "alice", "--note", "blocked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("{id} closed (true_positive)"));
    assert_eq!(alerts_json(dir, &["--status", "closed"]).len(), 1);
    assert!(as_tester(dir, &["alerts", "reopen", &id]).status.success());

    let shown = as_tester(dir, &["alerts", "show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let trail: Vec<(&str, &str)> =
        shown["transitions"].as_array().unwrap().iter().map(|t| (t["action"].as_str().unwrap(), t["actor"].as_str().unwrap())).collect();
    let opening = &trail[..trail.len() - 3];
    assert!(opening.first() == Some(&("created", "rampart")) && opening[1..].iter().all(|t| *t == ("updated", "rampart")), "{trail:?}");
    assert_eq!(trail[trail.len() - 3..], [("acknowledged", "cli:tester"), ("closed", "alice"), ("reopened", "cli:tester")]);
    assert_eq!(shown["alert"]["status"], "open");
    assert_eq!(shown["evidence"].as_array().unwrap().len(), 3);

    // Bad input: clear errors, nothing changed.
    let empty = tempfile::tempdir().unwrap();
    let nothing = as_tester(empty.path(), &["alerts", "list"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(stderr(&nothing).contains("no data in"), "{}", stderr(&nothing));
    let missing = as_tester(dir, &["alerts", "show", "no-such-alert"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("there is no alert `no-such-alert`"), "{}", stderr(&missing));
    assert_eq!(as_tester(dir, &["alerts", "reopen", "no-such-alert"]).status.code(), Some(1));
    assert_eq!(as_tester(dir, &["alerts", "list", "--status", "done"]).status.code(), Some(2));
    assert_eq!(as_tester(dir, &["alerts", "list", "--level", "severe"]).status.code(), Some(2));
    // Usage errors exit 2 (issue 11).
    assert_eq!(as_tester(dir, &["alerts", "list", "--from", "yesterday"]).status.code(), Some(2));
    assert_eq!(as_tester(dir, &["alerts", "list", "--entity", "ip:"]).status.code(), Some(2));
    assert_eq!(as_tester(dir, &["alerts", "ack", &id, "--actor", " "]).status.code(), Some(2));
    assert_eq!(as_tester(dir, &["alerts", "ack", &id, "--note", &"n".repeat(4001)]).status.code(), Some(2));
    assert_eq!(alerts_json(dir, &["--status", "open"]).len(), 2);
}
