//! Tests of the syslog parser and the frame decoder.

use proptest::prelude::*;
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-03-15 12:00:00 UTC);

fn parse(frame: &str) -> SyslogMessage<'_> {
    parse_syslog(frame.as_bytes(), NOW).unwrap()
}

fn err(frame: &[u8]) -> SyslogError {
    parse_syslog(frame, NOW).unwrap_err()
}

#[test]
fn rfc5424_example_1_with_bom() {
    let frame = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8";
    assert_eq!(
        parse(frame),
        SyslogMessage {
            facility: 4,
            severity: 2,
            timestamp: Some(datetime!(2003-10-11 22:14:15.003 UTC)),
            hostname: Some("mymachine.example.com"),
            app_name: Some("su"),
            proc_id: None,
            msg_id: Some("ID47"),
            structured_data: None,
            message: "'su root' failed for lonvick on /dev/pts/8",
            format: SyslogFormat::Rfc5424,
        }
    );
}

#[test]
fn rfc5424_example_2_offset_and_microseconds() {
    let m = parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
    assert_eq!((m.facility, m.severity), (20, 5));
    assert_eq!(m.timestamp, Some(datetime!(2003-08-24 05:14:15.000003 -07:00)));
    assert_eq!((m.hostname, m.app_name, m.proc_id, m.msg_id), (Some("192.0.2.1"), Some("myproc"), Some("8710"), None));
    assert_eq!(m.structured_data, None);
    assert_eq!(m.message, "%% It's time to make the do-nuts.");
}

#[test]
fn rfc5424_example_3_structured_data_and_bom() {
    let m = parse(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
         [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \u{feff}An application event log entry...",
    );
    assert_eq!(m.app_name, Some("evntslog"));
    assert_eq!(m.msg_id, Some("ID47"));
    assert_eq!(m.structured_data, Some("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"));
    assert_eq!(m.message, "An application event log entry...");
}

#[test]
fn rfc5424_example_4_two_elements_and_no_msg() {
    let m = parse(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
         [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]\r\n",
    );
    assert_eq!(
        m.structured_data,
        Some("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]")
    );
    assert_eq!(m.message, "");
}

#[test]
fn rfc5424_structured_data_escapes() {
    let m = parse(r#"<13>1 - h a p m [id@1 a="x\]y" b="q\"]" c="back\\"][id2 k="[v]"] after ] and ["#);
    assert_eq!(m.structured_data, Some(r#"[id@1 a="x\]y" b="q\"]" c="back\\"][id2 k="[v]"]"#));
    assert_eq!(m.message, "after ] and [");
}

#[test]
fn rfc5424_nil_values() {
    assert_eq!(
        parse("<0>1 - - - - - -"),
        SyslogMessage {
            facility: 0,
            severity: 0,
            timestamp: None,
            hostname: None,
            app_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: None,
            message: "",
            format: SyslogFormat::Rfc5424,
        }
    );
    assert_eq!(parse("<191>1 - - - - - - -\n").message, "-");
}

#[test]
fn rfc5424_access_log_msg() {
    let line = r#"203.0.113.7 - - [01/Mar/2026:10:00:00 +0000] "GET /cart?id=[1] HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11)""#;
    let frame = format!("<134>1 2026-03-01T10:00:00Z web01 nginx 812 access - {line}\n");
    let m = parse(&frame);
    assert_eq!((m.facility, m.severity), (16, 6));
    assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00 UTC)));
    assert_eq!((m.hostname, m.app_name, m.proc_id, m.msg_id), (Some("web01"), Some("nginx"), Some("812"), Some("access")));
    assert_eq!(m.message, line);
}

#[test]
fn rfc5424_json_msg() {
    let json = r#"{"event.action":"payment_attempt","payment":{"amount":19.99,"currency":"EUR"},"tags":["a b","c]"]}"#;
    let frame = format!("<14>1 2026-03-01T10:00:00.123+01:00 shop01 checkout 4242 payment - {json}");
    let m = parse(&frame);
    assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00.123 +01:00)));
    assert_eq!(m.message, json);
    assert_eq!(serde_json::from_str::<serde_json::Value>(m.message).unwrap()["payment"]["currency"], "EUR");
}

#[test]
fn rfc5424_header_errors() {
    let field = |field, expected| SyslogError::InvalidField { field, expected };
    let cases: &[(&str, SyslogError)] = &[
        ("<13>1 ", SyslogError::Truncated { field: "TIMESTAMP" }),
        ("<13>1 2003-13-11T22:14:15Z h a p m -", field("TIMESTAMP", "an RFC 3339 date-time or `-`")),
        ("<13>1 2003-10-11 h a p m -", field("TIMESTAMP", "an RFC 3339 date-time or `-`")),
        ("<13>1 - host", SyslogError::Truncated { field: "APP-NAME" }),
        ("<13>1 -  a p m -", field("HOSTNAME", "printable US-ASCII or `-`")),
        ("<13>1 - h\u{e9} a p m -", field("HOSTNAME", "printable US-ASCII or `-`")),
        ("<13>1 - h a p m", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
        ("<13>1 - h a p m [x", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
        ("<13>1 - h a p m [x a=\"]\"", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
        ("<13>1 - h a p m [x a=\"\\", SyslogError::Truncated { field: "STRUCTURED-DATA" }),
        ("<13>1 - h a p m msg", field("STRUCTURED-DATA", "`-` or `[`")),
        ("<13>1 - h a p m [x]msg", field("STRUCTURED-DATA", "`-` or `[...]` elements followed by a space or the end")),
        ("<13>1 - h a p m -msg", field("STRUCTURED-DATA", "`-` or `[...]` elements followed by a space or the end")),
    ];
    for (frame, expected) in cases {
        assert_eq!(&err(frame.as_bytes()), expected, "{frame}");
    }
}

#[test]
fn priority_and_frame_errors() {
    for frame in ["<192>1 - - - - - -", "<>x", "<1a>x", "<1234>x", "<", "<-1>x", "<13 x"] {
        assert_eq!(err(frame.as_bytes()), SyslogError::InvalidPriority, "{frame}");
    }
    assert_eq!(err(b""), SyslogError::Empty);
    assert_eq!(err(b"\r\n\0"), SyslogError::Empty);
    assert_eq!(err(b"<13>1 - - - - - - caf\xc3"), SyslogError::InvalidUtf8);
    assert_eq!(err(b"\xff<13>x"), SyslogError::InvalidUtf8);
    assert_eq!(parse("<007>x").severity, 7);
    assert_eq!((parse("<191>x").facility, parse("<191>x").severity), (23, 7));
}

#[test]
fn error_messages_do_not_quote_the_frame() {
    assert_eq!(SyslogError::InvalidPriority.to_string(), "expected a priority `<0>` to `<191>` at the start of the syslog frame");
    assert_eq!(SyslogError::Truncated { field: "APP-NAME" }.to_string(), "the RFC 5424 header ends before APP-NAME");
    for frame in ["<999>secret", "<13>1 secret h a p m -", "<13>1 - secret a p m secret", "<13>1 - h a p m [secret"] {
        assert!(!err(frame.as_bytes()).to_string().contains("secret"), "{frame}");
    }
    assert_eq!(
        FrameError::Truncated { expected: 10, received: 3 }.to_string(),
        "the stream ended after 3 of the 10 bytes an octet-counted syslog frame announced"
    );
}

#[test]
fn rfc3164_example_1() {
    assert_eq!(
        parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"),
        SyslogMessage {
            facility: 4,
            severity: 2,
            timestamp: Some(datetime!(2025-10-11 22:14:15 UTC)),
            hostname: Some("mymachine"),
            app_name: Some("su"),
            proc_id: None,
            msg_id: None,
            structured_data: None,
            message: "'su root' failed for lonvick on /dev/pts/8",
            format: SyslogFormat::Rfc3164,
        }
    );
}

#[test]
fn rfc3164_example_2_ip_host_no_tag() {
    let m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
    assert_eq!(m.timestamp, Some(datetime!(2026-02-05 17:32:18 UTC)));
    assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("10.0.0.99"), None, None));
    assert_eq!(m.message, "Use the BFG!");
}

#[test]
fn rfc3164_example_3_and_4_read_leniently() {
    // The RFC's own reading: "CST" sits where HOSTNAME goes.
    let m = parse("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.");
    assert_eq!(m.timestamp, Some(datetime!(2025-08-24 05:34:00 UTC)));
    assert_eq!((m.hostname, m.app_name), (Some("CST"), None));
    assert_eq!(m.message, "1987 mymachine myproc[10]: %% It's time to make the do-nuts.");
    let m = parse("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
    assert_eq!((m.timestamp, m.hostname, m.app_name), (None, None, None));
    assert_eq!(m.message, "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
    assert_eq!(m.format, SyslogFormat::Rfc3164);
}

#[test]
fn rfc3164_tags_and_pids() {
    let m = parse("<30>Mar  3 04:05:06 web01 sshd[4242]: Accepted publickey for deploy");
    assert_eq!(m.timestamp, Some(datetime!(2026-03-03 04:05:06 UTC)));
    assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("web01"), Some("sshd"), Some("4242")));
    assert_eq!(m.message, "Accepted publickey for deploy");

    let m = parse("<30>Mar 3 04:05:06 web01 postfix/smtpd[77] connect from unknown");
    assert_eq!(m.timestamp, Some(datetime!(2026-03-03 04:05:06 UTC)));
    assert_eq!((m.app_name, m.proc_id, m.message), (Some("postfix/smtpd"), Some("77"), "connect from unknown"));

    let m = parse("<6>Mar 14 23:00:00 kernel: [ 1.0] usb 1-1: new device");
    assert_eq!((m.hostname, m.app_name, m.proc_id), (None, Some("kernel"), None));
    assert_eq!(m.message, "[ 1.0] usb 1-1: new device");

    let m = parse("<6>mar 14 23:00:00 2001:db8::1 app:");
    assert_eq!((m.hostname, m.app_name, m.message), (Some("2001:db8::1"), Some("app"), ""));

    let m = parse("<6>Mar 14 23:00:00 host");
    assert_eq!((m.hostname, m.app_name, m.message), (Some("host"), None, ""));
}

#[test]
fn rfc3164_year_rollover() {
    let at = |frame: &str, now| parse_syslog(frame.as_bytes(), now).unwrap().timestamp;
    let new_year = datetime!(2026-01-01 00:10:00 UTC);
    assert_eq!(at("<13>Dec 31 23:59:00 h t: m", new_year), Some(datetime!(2025-12-31 23:59:00 UTC)));
    assert_eq!(at("<13>Jan  1 00:30:00 h t: m", new_year), Some(datetime!(2026-01-01 00:30:00 UTC)));
    assert_eq!(at("<13>Mar 16 11:00:00 h t: m", NOW), Some(datetime!(2026-03-16 11:00:00 UTC)));
    assert_eq!(at("<13>Mar 16 13:00:00 h t: m", NOW), Some(datetime!(2025-03-16 13:00:00 UTC)));
    // February 29 read in a year without one belongs to the last leap year, if that was the year before.
    assert_eq!(at("<13>Feb 29 12:00:00 h t: m", datetime!(2025-03-01 00:00:00 UTC)), Some(datetime!(2024-02-29 12:00:00 UTC)));
    assert_eq!(at("<13>Feb 29 12:00:00 h t: m", datetime!(2027-03-01 00:00:00 UTC)), None);
    // The sender's zone is unknown: the time is read in `now`'s offset.
    assert_eq!(at("<13>Mar  1 08:00:00 h t: m", datetime!(2026-03-15 12:00:00 +02:00)), Some(datetime!(2026-03-01 08:00:00 +02:00)));
}

#[test]
fn rfc3164_impossible_or_missing_header() {
    let m = parse("<13>Feb 30 25:00:00 host app: text");
    assert_eq!((m.timestamp, m.hostname, m.app_name, m.message), (None, Some("host"), Some("app"), "text"));
    let m = parse("<13>hello world: text");
    assert_eq!((m.timestamp, m.hostname, m.app_name, m.message), (None, None, None, "hello world: text"));
    let m = parse("<13>Oct 11 22:14:15x host");
    assert_eq!((m.timestamp, m.hostname, m.message), (None, None, "Oct 11 22:14:15x host"));
    let m = parse("<13>2 2003-10-11T22:14:15Z h a p m - msg");
    assert_eq!((m.format, m.timestamp, m.message), (SyslogFormat::Rfc3164, None, "2 2003-10-11T22:14:15Z h a p m - msg"));
    assert_eq!(parse("<13>\u{feff}text").message, "text");
}

#[test]
fn rfc3164_with_rfc3339_timestamp() {
    let m = parse("<86>2026-03-01T10:00:00.5+01:00 web01 sudo[9]: deploy : COMMAND=/bin/true");
    assert_eq!(m.timestamp, Some(datetime!(2026-03-01 10:00:00.5 +01:00)));
    assert_eq!((m.hostname, m.app_name, m.proc_id), (Some("web01"), Some("sudo"), Some("9")));
    assert_eq!(m.message, "deploy : COMMAND=/bin/true");
}

#[test]
fn missing_pri_defaults_to_user_notice() {
    let m = parse("Oct 11 22:14:15 mymachine su: hi");
    assert_eq!((m.facility, m.severity, m.format), (1, 5, SyslogFormat::Rfc3164));
    assert_eq!((m.hostname, m.app_name, m.message), (Some("mymachine"), Some("su"), "hi"));
    let m = parse("1 2003-10-11T22:14:15Z h a p m - msg");
    assert_eq!((m.facility, m.severity, m.timestamp, m.message), (1, 5, None, "1 2003-10-11T22:14:15Z h a p m - msg"));
}

type Decoded = Vec<Result<Vec<u8>, FrameError>>;

/// Pushes `stream` in chunks cycling through `chunks` (0 counts as 1), draining after each push.
fn decode(max_frame: usize, stream: &[u8], chunks: &[usize]) -> Decoded {
    let mut dec = FrameDecoder::new(max_frame);
    let mut out = Vec::new();
    let mut rest = stream;
    for &n in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(n.clamp(1, rest.len()));
        rest = tail;
        dec.push(chunk);
        while let Some(frame) = dec.next_frame() {
            out.push(frame.map(<[u8]>::to_vec));
        }
    }
    while let Some(frame) = dec.finish() {
        out.push(frame.map(<[u8]>::to_vec));
    }
    out
}

/// The same stream fed whole, byte by byte and in uneven chunks.
fn decode_all_ways(max_frame: usize, stream: &[u8]) -> Decoded {
    let whole = decode(max_frame, stream, &[usize::MAX]);
    assert_eq!(decode(max_frame, stream, &[1]), whole, "byte by byte");
    assert_eq!(decode(max_frame, stream, &[3, 1, 7, 2, 13, 5]), whole, "uneven chunks");
    assert_eq!(decode(max_frame, stream, &[64, 9]), whole, "larger chunks");
    whole
}

fn frames(list: &[&[u8]]) -> Decoded {
    list.iter().map(|f| Ok(f.to_vec())).collect()
}

#[test]
fn mixed_framing() {
    let stream = b"18 <13>1 - - - - - a\n<13>b\n\n10 two\nlines!<14>c\r\n0 zero\n\r\n2026-03-01 d\n5 <1>e\n\x00<13>f\x00<13>g";
    assert_eq!(
        decode_all_ways(64, stream),
        frames(&[b"<13>1 - - - - - a\n", b"<13>b", b"two\nlines!", b"<14>c", b"0 zero", b"2026-03-01 d", b"<1>e\n", b"<13>f", b"<13>g"])
    );
}

#[test]
fn crlf_nul_and_trailing_frames() {
    assert_eq!(decode_all_ways(8, b"a\r\nb\0c\n\r\r\nd\r"), frames(&[b"a", b"b", b"c", b"\r", b"d"]));
    assert_eq!(decode_all_ways(8, b"123"), frames(&[b"123"]));
    assert_eq!(decode_all_ways(64, b"12345678901234567890 x\n"), frames(&[b"12345678901234567890 x"]));
    assert_eq!(decode_all_ways(64, b"ok\n10 abc"), vec![Ok(b"ok".to_vec()), Err(FrameError::Truncated { expected: 10, received: 3 })]);
}

#[test]
fn oversize_line_resyncs_at_next_lf() {
    let mut stream = b"short\n".to_vec();
    stream.extend_from_slice(&[b'x'; 30]);
    stream.extend_from_slice(b"\nok\r\nhello\r\nhello!\r\n12345678\n123456789");
    assert_eq!(
        decode_all_ways(8, &stream),
        vec![
            Ok(b"short".to_vec()),
            Err(FrameError::TooLong { limit: 8 }),
            Ok(b"ok".to_vec()),
            Ok(b"hello".to_vec()),
            Ok(b"hello!".to_vec()),
            Ok(b"12345678".to_vec()),
            Err(FrameError::TooLong { limit: 8 }),
        ]
    );
    assert_eq!(decode_all_ways(5, b"hello!\r\nok\n"), vec![Err(FrameError::TooLong { limit: 5 }), Ok(b"ok".to_vec())]);
}

#[test]
fn oversize_octet_frame_skips_announced_bytes() {
    let mut stream = b"30 ".to_vec();
    stream.extend_from_slice(&[b'\n'; 30]);
    stream.extend_from_slice(b"5 hello9999999999999999999 x");
    assert_eq!(
        decode_all_ways(8, &stream),
        vec![Err(FrameError::TooLong { limit: 8 }), Ok(b"hello".to_vec()), Err(FrameError::TooLong { limit: 8 })]
    );
}

#[test]
fn frames_parse_as_syslog() {
    let mut dec = FrameDecoder::new(1024);
    dec.push(b"<34>Oct 11 22:14:15 mymachine su: hi\n43 <165>1 2003-10-11T22:14:15.003Z h a - - - x");
    let mut messages = Vec::new();
    while let Some(frame) = dec.next_frame() {
        let m = parse_syslog(frame.unwrap(), NOW).unwrap();
        messages.push((m.format, m.hostname.map(str::to_owned), m.message.to_owned()));
    }
    assert_eq!(
        messages,
        vec![
            (SyslogFormat::Rfc3164, Some("mymachine".to_owned()), "hi".to_owned()),
            (SyslogFormat::Rfc5424, Some("h".to_owned()), "x".to_owned())
        ]
    );
}

#[test]
fn memory_stays_bounded_by_max_frame() {
    let mut dec = FrameDecoder::new(100);
    let mut errors = Vec::new();
    for _ in 0..1000 {
        dec.push(&[b'x'; 100]);
        assert!(dec.buffered() <= 200, "{}", dec.buffered());
        while let Some(frame) = dec.next_frame() {
            errors.push(frame.unwrap_err());
        }
        assert!(dec.buffered() <= 100, "{}", dec.buffered());
    }
    assert_eq!(errors, vec![FrameError::TooLong { limit: 100 }]);
    dec.push(b"\nok\n");
    assert_eq!(dec.next_frame(), Some(Ok(&b"ok"[..])));
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_syslog(&bytes, NOW);
    }

    #[test]
    fn parse_never_panics_on_syslog_like_text(
        prefix in "(<[0-9]{1,3}>)?(1 )?",
        text in "[<>0-9a-zA-Z :.\\[\\]\"\\\\-]{0,60}",
    ) {
        let _ = parse_syslog(format!("{prefix}{text}").as_bytes(), NOW);
        let _ = parse_syslog(format!("{prefix}Mar  1 10:00:00 {text}").as_bytes(), NOW);
        let _ = parse_syslog(format!("<13>1 - h a p m [{text}").as_bytes(), NOW);
    }

    #[test]
    fn decoder_never_panics_and_stays_bounded(
        max_frame in 0usize..64,
        bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b' '), b'0'..=b'9'], 0..600),
        chunks in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let mut dec = FrameDecoder::new(max_frame);
        let mut rest = &bytes[..];
        for &n in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(n.min(max_frame.max(1)).min(rest.len()));
            rest = tail;
            dec.push(chunk);
            prop_assert!(dec.buffered() <= 2 * max_frame.max(1) + MAX_LEN_DIGITS + 1, "{} buffered", dec.buffered());
            while let Some(frame) = dec.next_frame() {
                if let Ok(frame) = frame {
                    prop_assert!(!frame.is_empty() && frame.len() <= max_frame);
                }
            }
        }
        while dec.finish().is_some() {}
    }

    #[test]
    fn octet_counting_round_trips(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 0..20),
        chunks in proptest::collection::vec(1usize..200, 1..8),
    ) {
        let mut stream = Vec::new();
        for m in &messages {
            stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
            stream.extend_from_slice(m);
        }
        let expected: Decoded = messages.into_iter().map(Ok).collect();
        prop_assert_eq!(decode(80, &stream, &chunks), expected);
    }
}
