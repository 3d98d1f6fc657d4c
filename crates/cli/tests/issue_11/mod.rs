//! Issue 11, what a new user met: the demo at speed, its flags and its signals, follow state of a
//! remote delivery, `init`'s checks, logs in files, the rule tooling, closed pipes and exit
//! codes, the actor without `$USER`, and honest `replay --no-store` summaries.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{BIN, SQLI_RULE, rampart, setup};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The numbers of the demo's last report line: (access lines, shop events, stored, refused).
fn last_report(stdout: &str) -> (u64, u64, u64, u64) {
    let line = stdout.lines().rev().find(|l| l.contains("] access lines ")).unwrap_or_else(|| panic!("no report in {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |word: &str| -> u64 {
        let at = words.iter().position(|w| *w == word).unwrap_or_else(|| panic!("no `{word}` in {line}"));
        words[at + 1].parse().unwrap()
    };
    (after("lines"), after("events"), after("stored"), after("refused"))
}

#[test]
fn issue_11_demo_at_high_speed_stores_everything_with_ordered_alert_times() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let data_arg = data.to_str().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--duration", "3s", "--speed", "1000", "--rate", "2", "--listen", "127.0.0.1:0", "--data", data_arg])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let (lines, events, stored, refused) = last_report(&stdout);
    assert_eq!(refused, 0, "{stdout}");
    assert_eq!(stored, lines + events, "{stdout}");
    assert!(stdout.contains(&format!("(data in {data_arg}, kept)")), "{stdout}");
    // Alert lines stay off the demo's screen.
    assert!(!stderr.contains("rampart::alert"), "{stderr}");

    // --data is the demo's data directory, kept: its alerts' times are in order.
    let listed = rampart(dir.path(), &["alerts", "list", "--json", "--limit", "100000", "--data", data_arg]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let alerts: Vec<serde_json::Value> = text(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!alerts.is_empty(), "{stdout}");
    let millis = |alert: &serde_json::Value, key: &str| {
        time::OffsetDateTime::parse(alert[key].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let now = time::OffsetDateTime::now_utc();
    for alert in &alerts {
        let (first, last, detected) = (millis(alert, "first_event_time"), millis(alert, "last_event_time"), millis(alert, "detected_at"));
        assert!(first <= last && last <= detected && detected <= now, "{alert}");
    }
}

#[test]
fn issue_11_demo_honours_config_and_removes_its_temporary_data_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "[store]\nretention_days = 0\n").unwrap();
    let out = rampart(dir.path(), &["demo", "--config", "broken.toml", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("store.retention_days must be at least 1"), "{}", text(&out.stderr));

    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = Command::new(BIN)
        .args(["demo", "--duration", "10m", "--rate", "1", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("TMPDIR", &tmp)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("feeding") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the demo ended before feeding");
    }
    let made: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(made.len(), 1, "the demo's temporary data directory: {made:?}");
    assert!(std::fs::read_dir(&tmp).unwrap().next().unwrap().unwrap().path().join("secret.key").exists());
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the demo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn issue_11_generate_takes_neither_data_nor_config() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&rampart(dir.path(), &["generate", "--help"]).stdout);
    assert!(help.contains("Not for `generate`"), "{help}");
    for flag in ["--data", "--config"] {
        let out = rampart(dir.path(), &["generate", "--minutes", "1", "--out", "t", flag, "d"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("`generate` writes files only: it takes neither --data nor --config"), "{}", text(&out.stderr));
    }
    assert!(!dir.path().join("t").exists() && !dir.path().join("d").exists());
}

#[test]
fn issue_11_follow_to_a_server_makes_no_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.log"), "x\n").unwrap();
    let state = dir.path().join("state");
    let out = Command::new(BIN)
        .args(["ingest", "--follow", "access.log", "--format", "combined", "--to", "http://127.0.0.1:9", "--token", "t"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing listens: {}", text(&out.stderr));
    assert!(!dir.path().join("data").exists(), "a data directory without its key was made");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("rampart/follow")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // And so init and serve still set the directory up.
    let init = rampart(dir.path(), &["init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    assert!(dir.path().join("data/secret.key").exists());
}

#[test]
fn issue_11_init_checks_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/rampart.db"), b"x").unwrap();
    let out = rampart(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("holds data but no secret.key"), "{}", text(&out.stderr));
    assert!(!dir.path().join("rampart.toml").exists(), "init wrote its config before failing");
}

#[test]
fn issue_11_logs_in_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.log"), super::combined(1, "03/Mar/2024:10:00") + "\n").unwrap();
    let out = rampart(dir.path(), &["replay", "access.log", "--no-store"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success() && stderr.contains("detection rules loaded"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn issue_11_the_packs_rules_validate_beside_their_test_cases() {
    let dir = tempfile::tempdir().unwrap();
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let out = rampart(dir.path(), &["rules", "validate", pack.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("41 rule(s) valid, 0 invalid"), "{stdout}");
    assert!(stdout.contains(" test-case file(s) skipped (not rules)"), "{stdout}");
}

#[test]
fn issue_11_rules_test_needs_rules_and_runs_the_builtin_pack_on_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    std::fs::write(dir.path().join("access.log"), super::attack_line(1) + "\n").unwrap();
    let out = rampart(dir.path(), &["rules", "test", "empty", "--events", "access.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no rules found in empty; `--builtin` runs the built-in pack"), "{}", text(&out.stderr));
    let out = rampart(dir.path(), &["rules", "test", "--builtin", "--events", "access.log"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("1 event(s), 0 refused") && stdout.to_lowercase().contains("sql injection"), "{stdout}");
}

/// Runs `args` with stdout a pipe nobody reads.
fn closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child =
        Command::new(BIN).args(args).current_dir(dir).env_remove("RUST_LOG").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn issue_11_a_closed_stdout_is_a_clean_exit_and_usage_errors_exit_2() {
    let (dir, _) = setup();
    let dir = dir.path();
    std::fs::write(dir.join("access.log"), super::attack_line(1) + "\n").unwrap();
    for args in [&["rules", "list"][..], &["rules", "mapping"], &["token", "list"], &["alerts", "list"], &["events", "search"]] {
        let out = closed_stdout(dir, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}: {}", text(&out.stderr));
    }
    for args in [
        &["events", "search", "--from", "yesterday"][..],
        &["events", "search", "--to", "soon"],
        &["alerts", "list", "--from", "yesterday"],
        &["alerts", "list", "--status", "done"],
        &["alerts", "close", "x", "--as", "maybe"],
        &["demo", "--speed", "0"],
        &["replay", "access.log", "--format", "nope", "--no-store"],
    ] {
        assert_eq!(rampart(dir, args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn issue_11_actor_without_user_is_the_uids_name() {
    let (dir, _) = setup();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("data/rules")).unwrap();
    std::fs::write(dir.join("data/rules/mine.yml"), SQLI_RULE).unwrap();
    std::fs::write(dir.join("access.log"), super::attack_line(1) + "\n").unwrap();
    assert!(rampart(dir, &["replay", "access.log", "--format", "combined"]).status.success());
    let listed = rampart(dir, &["alerts", "list", "--json", "--rule", "test-union-select"]);
    let alert: serde_json::Value = serde_json::from_str(text(&listed.stdout).lines().next().unwrap()).unwrap();
    let id = alert["id"].as_str().unwrap();
    let out = Command::new(BIN)
        .args(["alerts", "ack", id])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&rampart(dir, &["alerts", "show", id, "--json"]).stdout).unwrap();
    let actor = shown["transitions"].as_array().unwrap().last().unwrap()["actor"].as_str().unwrap().to_owned();
    let name = text(&Command::new("id").arg("-un").output().unwrap().stdout).trim().to_owned();
    assert_eq!(actor, format!("cli:{name}"));
}

#[test]
fn issue_11_replay_without_storing_reports_detections_not_alerts() {
    let (dir, _) = setup();
    let dir = dir.path();
    std::fs::write(dir.join("access.log"), super::attack_line(1) + "\n").unwrap();
    let out = rampart(dir, &["replay", "access.log", "--no-store", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
    for absent in ["stored", "duplicates", "alerts", "alerts_updated", "alerts_by_rule"] {
        assert!(!keys.contains(&absent), "{absent} in {summary}");
    }
    assert_eq!(summary["parsed"], 1, "{summary}");
    assert!(summary["detections"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["detections_by_rule"].as_array().is_some_and(|r| !r.is_empty()), "{summary}");
}
