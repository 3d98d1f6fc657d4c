//! Card numbers (PANs): finding, masking and fingerprinting them before anything is stored.
//!
//! A PAN is a run of 13–19 digits, written plainly or in groups split by single spaces or
//! dashes, that passes the Luhn check and starts with a known card-scheme prefix. It becomes
//! `first6` + `*` + `last4` (`4111 1111 1111 1111` → `411111******1111`), and a keyed
//! HMAC-SHA256 of its digits stands in for it wherever cards must be correlated.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use rampart_model::fields;

/// The fewest and most digits a PAN has.
const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;
/// Where a sender puts the card number itself: the card fields Rampart adds describe it.
const CARD_NUMBER: &str = "payment.card.number";

/// One PAN found and masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedPan {
    /// First six digits (the BIN / IIN).
    pub bin: String,
    /// Last four digits.
    pub last4: String,
    /// The digits, kept only long enough to fingerprint them.
    digits: String,
}

impl MaskedPan {
    fn new(digits: String) -> MaskedPan {
        MaskedPan { bin: digits[..6].to_owned(), last4: digits[digits.len() - 4..].to_owned(), digits }
    }
}

/// Replaces every PAN in `text` by its masked form. Returns `None` when there was none, so the
/// common case allocates nothing; otherwise the new text and the PANs found, in order.
///
/// Digits and separators may be percent-encoded and `+` separates groups as a space does, so
/// a URL's `card=4111+1111+1111+1111`, `card=4111%201111%201111%201111` and
/// `card=%34111111111111111` are found too; the masked form replaces every byte of the encoded
/// number.
pub fn mask_pans(text: &str) -> Option<(String, Vec<MaskedPan>)> {
    let bytes = text.as_bytes();
    // Every digit, plain or encoded, holds an ASCII digit byte.
    if bytes.iter().filter(|b| b.is_ascii_digit()).count() < MIN_DIGITS {
        return None;
    }
    let mut out: Option<String> = None;
    let mut found = Vec::new();
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < bytes.len() {
        if digit_at(bytes, i).is_none() {
            i += 1;
            continue;
        }
        let run = DigitRun::scan(bytes, i);
        for (start, end, digits) in run.pans() {
            let masked = mask(&digits);
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start]);
            out.push_str(&masked);
            copied = end;
            found.push(MaskedPan::new(digits));
        }
        i = run.end;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some((out, found))
}

/// The digit at byte `i`, written plainly or percent-encoded (`%34`), and its length in bytes.
#[inline]
fn digit_at(bytes: &[u8], i: usize) -> Option<(u8, usize)> {
    match *bytes.get(i)? {
        d @ b'0'..=b'9' => Some((d, 1)),
        b'%' if bytes.get(i + 1) == Some(&b'3') => bytes.get(i + 2).filter(|d| d.is_ascii_digit()).map(|&d| (d, 3)),
        _ => None,
    }
}

/// The length of a separator between digit groups at byte `i`: a space, dash or plus, plain or
/// percent-encoded (`%20`, `%2D`, `%2B`).
#[inline]
fn separator_at(bytes: &[u8], i: usize) -> Option<usize> {
    match *bytes.get(i)? {
        b' ' | b'-' | b'+' => Some(1),
        b'%' if bytes.get(i + 1) == Some(&b'2') && matches!(bytes.get(i + 2), Some(b'0' | b'B' | b'b' | b'D' | b'd')) => Some(3),
        _ => None,
    }
}

/// Whether `bytes` holds a run of at least 13 digits (in groups joined by single separators,
/// plain or percent-encoded as [`mask_pans`] reads them): the cheap test that lets a line with
/// no possible card number skip [`mask_pans`]. It allocates nothing and skips eight digit-free
/// bytes at a time.
pub fn may_contain_pan(bytes: &[u8]) -> bool {
    // Most lines have no `%` or `+`: they take the loop that only knows plain digits.
    if memchr::memchr2(b'%', b'+', bytes).is_some() { longest_run::<true>(bytes) } else { longest_run::<false>(bytes) }
}

/// [`may_contain_pan`], reading percent-encoding and `+` when `ENCODED`.
fn longest_run<const ENCODED: bool>(bytes: &[u8]) -> bool {
    let mut digits = 0usize; // digits in the current run
    let mut i = 0;
    while i < bytes.len() {
        if digits == 0 {
            // Outside a run, jump over words without any digit (every digit, plain or encoded,
            // holds a digit byte; landing inside `%34` only counts more digits).
            while let Some(chunk) = bytes.get(i..i + 8) {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                if has_digit_byte(word) {
                    break;
                }
                i += 8;
            }
            if i >= bytes.len() {
                return false;
            }
        }
        let b = bytes[i];
        let len = if b.is_ascii_digit() {
            1
        } else if ENCODED && b == b'%' && digit_at(bytes, i).is_some() {
            3
        } else {
            0
        };
        if len > 0 {
            digits += 1;
            if digits >= MIN_DIGITS {
                return true;
            }
            i += len;
            continue;
        }
        if digits > 0 {
            let joiner = if ENCODED { separator_at(bytes, i) } else { matches!(b, b' ' | b'-').then_some(1) };
            if let Some(len) = joiner
                && digit_at(bytes, i + len).is_some()
            {
                i += len;
                continue;
            }
        }
        digits = 0;
        i += 1;
    }
    false
}

/// Whether any byte of `word` is an ASCII digit (the "has less than" bit trick on `word ^ '0'`,
/// exact for existence).
fn has_digit_byte(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(b'0'));
    x.wrapping_sub(ONES * 10) & !x & HIGHS != 0
}

/// One group of a run: its bytes in the text and its digits in [`DigitRun::digits`].
struct Group {
    start: usize,
    end: usize,
    digits: std::ops::Range<usize>,
}

/// A maximal run of digit groups joined by single separators, decoded.
struct DigitRun {
    /// The run's digits, decoded, as ASCII.
    digits: String,
    groups: Vec<Group>,
    end: usize,
}

impl DigitRun {
    fn scan(bytes: &[u8], start: usize) -> DigitRun {
        let mut run = DigitRun { digits: String::new(), groups: Vec::new(), end: start };
        let mut i = start;
        loop {
            let (group_start, first_digit) = (i, run.digits.len());
            while let Some((digit, len)) = digit_at(bytes, i) {
                run.digits.push(char::from(digit));
                i += len;
            }
            run.groups.push(Group { start: group_start, end: i, digits: first_digit..run.digits.len() });
            match separator_at(bytes, i) {
                Some(len) if digit_at(bytes, i + len).is_some() => i += len,
                _ => {
                    run.end = i;
                    return run;
                }
            }
        }
    }

    /// PANs in this run, as (start, end, digits), not overlapping. A run of groups tries every
    /// span of whole groups, longest first, so `4111-1111-1111-1111 2024` still finds the card.
    fn pans(&self) -> Vec<(usize, usize, String)> {
        let mut pans = Vec::new();
        let mut first = 0;
        while first < self.groups.len() {
            let from = self.groups[first].digits.start;
            let found = (first..self.groups.len())
                .map(|last| (last, &self.digits[from..self.groups[last].digits.end]))
                .take_while(|(_, digits)| digits.len() <= MAX_DIGITS)
                .filter(|(_, digits)| is_pan(digits))
                .last();
            match found {
                Some((last, digits)) => {
                    pans.push((self.groups[first].start, self.groups[last].end, digits.to_owned()));
                    first = last + 1;
                }
                None => first += 1,
            }
        }
        pans
    }
}

fn mask(digits: &str) -> String {
    let mut masked = String::with_capacity(digits.len());
    masked.push_str(&digits[..6]);
    masked.extend(std::iter::repeat_n('*', digits.len() - 10));
    masked.push_str(&digits[digits.len() - 4..]);
    masked
}

/// Whether a digit string is a plausible PAN: right length, known scheme prefix, Luhn-valid.
pub(crate) fn is_pan(digits: &str) -> bool {
    (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) && has_scheme_prefix(digits) && luhn_valid(digits)
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Issuer prefixes of the card schemes in use: Visa, Mastercard, American Express, Discover,
/// JCB, Diners Club, UnionPay, Maestro, Mir, RuPay, Verve, Troy, UATP.
fn has_scheme_prefix(digits: &str) -> bool {
    let prefix = |n: usize| digits[..n].parse::<u32>().unwrap_or(0);
    match digits.as_bytes()[0] {
        b'1' => true,                                                                     // UATP
        b'2' => (2200..=2204).contains(&prefix(4)) || (2221..=2720).contains(&prefix(4)), // Mir, Mastercard
        b'3' => {
            matches!(prefix(2), 34 | 36 | 37 | 38 | 39)
                || (300..=305).contains(&prefix(3))
                || prefix(4) == 3095
                || (3528..=3589).contains(&prefix(4))
                || matches!(prefix(3), 353 | 356)
        }
        b'4' => true,                           // Visa
        b'5' => (50..=58).contains(&prefix(2)), // Maestro, Mastercard, Verve
        b'6' => true,                           // Discover, UnionPay, Maestro, RuPay, Troy
        b'8' => matches!(prefix(2), 81 | 82),   // UnionPay, RuPay
        b'9' => prefix(4) == 9792,              // Troy
        _ => false,
    }
}

/// Masks card numbers in events and fingerprints them with the data directory's secret key.
#[derive(Clone)]
pub struct CardProtector {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for CardProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardProtector { key: <redacted> }")
    }
}

impl CardProtector {
    /// A protector keyed with `key` (32 random bytes made by `rampart init`).
    pub fn new(key: &[u8]) -> CardProtector {
        // HMAC takes keys of any length.
        let key = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        CardProtector { key }
    }

    /// The keyed fingerprint of a card number's digits, as hex.
    pub fn fingerprint(&self, digits: &str) -> String {
        let mut mac = self.key.clone();
        mac.update(digits.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Masks every PAN in a JSON value: string values, object keys, and numbers that are
    /// themselves card numbers. Sets `payment.card.fingerprint`, `.bin` and `.last4` where the
    /// record carries none of its own: from `payment.card.number` when the record has that
    /// field (and nothing when it holds no card number), else from the first PAN found.
    ///
    /// Numbers are seen here as parsed: JSON text should go through
    /// [`quote_card_numbers`](crate::quote_card_numbers) first, so that a card number written
    /// `4.111111111111111e15` or with 19 digits and a fraction is found as written.
    pub fn protect(&self, record: &mut Value) {
        let own = match record {
            Value::Object(map) => card_number_field(map).map(value_pan),
            _ => None,
        };
        let mut first = None;
        mask_value(record, &mut first);
        let pan = match own {
            Some(own) => own,
            None => first,
        };
        let (Some(pan), Value::Object(map)) = (pan, record) else { return };
        self.add_card_fields_to(map, &pan);
    }

    /// Sets `payment.card.fingerprint`, `.bin` and `.last4` of `record` from `pan`, where the
    /// record has none of its own and no `payment.card.number` (which the card fields describe).
    pub(crate) fn add_card_fields(&self, record: &mut Value, pan: &MaskedPan) {
        if let Value::Object(map) = record
            && card_number_field(map).is_none()
        {
            self.add_card_fields_to(map, pan);
        }
    }

    /// Like [`CardProtector::add_card_fields`], on an event.
    pub(crate) fn add_card_fields_to_event(&self, event: &mut rampart_model::Event, pan: &MaskedPan) {
        if event.get(CARD_NUMBER).is_some() {
            return;
        }
        let values = [
            (fields::PAYMENT_CARD_FINGERPRINT, self.fingerprint(&pan.digits)),
            (fields::PAYMENT_CARD_BIN, pan.bin.clone()),
            (fields::PAYMENT_CARD_LAST4, pan.last4.clone()),
        ];
        for (path, value) in values {
            if event.get(path).is_none() {
                event.set(path, Value::String(value));
            }
        }
    }

    fn add_card_fields_to(&self, map: &mut Map<String, Value>, pan: &MaskedPan) {
        set_missing(map, fields::PAYMENT_CARD_FINGERPRINT, self.fingerprint(&pan.digits));
        set_missing(map, fields::PAYMENT_CARD_BIN, pan.bin.clone());
        set_missing(map, fields::PAYMENT_CARD_LAST4, pan.last4.clone());
    }
}

/// `payment.card.number` of a raw record, written dotted, nested or anything between.
fn card_number_field(map: &Map<String, Value>) -> Option<&Value> {
    fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
        if let Some(value) = map.get(path) {
            return Some(value);
        }
        path.match_indices('.').find_map(|(at, _)| match map.get(&path[..at]) {
            Some(Value::Object(inner)) => lookup(inner, &path[at + 1..]),
            _ => None,
        })
    }
    lookup(map, CARD_NUMBER)
}

/// The first PAN of a value (a string holding one, or a number that is one).
fn value_pan(value: &Value) -> Option<MaskedPan> {
    match value {
        Value::String(s) => mask_pans(s).and_then(|(_, pans)| pans.into_iter().next()),
        Value::Number(n) => number_pan(n).map(MaskedPan::new),
        _ => None,
    }
}

/// The digits of a parsed number that is a card number: an integer, negative or not, or a float
/// holding an integer exactly (below 2^53).
fn number_pan(n: &serde_json::Number) -> Option<String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let value = match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u,
        (None, Some(i), _) => i.unsigned_abs(),
        (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < EXACT => {
            // Exact: an integer below 2^53 converts without loss.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let u = f.abs() as u64;
            u
        }
        _ => return None,
    };
    if value < 10u64.pow(u32::try_from(MIN_DIGITS - 1).unwrap_or(12)) {
        return None;
    }
    Some(value.to_string()).filter(|digits| is_pan(digits))
}

/// Sets a dotted path in a raw record unless it is already there (dotted or nested).
fn set_missing(map: &mut Map<String, Value>, path: &str, value: String) {
    if map.contains_key(path) {
        return;
    }
    let mut parts = path.split('.').peekable();
    let mut current = map;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.entry(part.to_owned()).or_insert(Value::String(value));
            return;
        }
        let slot = current.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        current = match slot {
            Value::Object(inner) => inner,
            _ => return,
        };
    }
}

fn mask_value(value: &mut Value, first: &mut Option<MaskedPan>) {
    match value {
        Value::String(s) => {
            if let Some((masked, pans)) = mask_pans(s) {
                *s = masked;
                first.get_or_insert_with(|| pans.into_iter().next().unwrap_or_else(|| unreachable!("mask_pans found one")));
            }
        }
        Value::Number(n) => {
            if let Some(digits) = number_pan(n) {
                *value = Value::String(mask(&digits));
                first.get_or_insert_with(|| MaskedPan::new(digits));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask_value(item, first)),
        Value::Object(map) => {
            if map.keys().any(|key| mask_pans(key).is_some()) {
                let old = std::mem::take(map);
                for (key, child) in old {
                    let key = match mask_pans(&key) {
                        Some((masked, pans)) => {
                            if first.is_none() {
                                *first = pans.into_iter().next();
                            }
                            masked
                        }
                        None => key,
                    };
                    map.insert(key, child);
                }
            }
            map.values_mut().for_each(|child| mask_value(child, first));
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Published test numbers of the major schemes.
    pub(crate) const TEST_PANS: &[&str] = &[
        "4111111111111111", // Visa
        "4012888888881881", // Visa
        "4222222222222",    // Visa, 13 digits
        "5555555555554444", // Mastercard
        "2223003122003222", // Mastercard 2-series
        "378282246310005",  // American Express
        "6011111111111117", // Discover
        "3530111333300000", // JCB
        "30569309025904",   // Diners Club
        "6200000000000005", // UnionPay
        "4000056655665556", // Visa debit
        "6759649826438453", // Maestro
    ];

    #[test]
    fn every_test_number_is_masked_in_every_spelling() {
        for pan in TEST_PANS {
            let grouped: Vec<String> = pan.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            for written in [pan.to_string(), grouped.join(" "), grouped.join("-")] {
                let text = format!("pay with {written}, thanks");
                let (masked, found) = mask_pans(&text).unwrap_or_else(|| panic!("{written} not found"));
                let expected = format!("pay with {}{}{}, thanks", &pan[..6], "*".repeat(pan.len() - 10), &pan[pan.len() - 4..]);
                assert_eq!(masked, expected);
                assert_eq!(found.len(), 1);
                assert_eq!(found[0].last4, &pan[pan.len() - 4..]);
            }
        }
    }

    #[test]
    fn non_cards_are_left_alone() {
        for text in [
            "4111111111111112",        // fails Luhn
            "7111111111111114",        // no scheme starts with 7 (Luhn-valid)
            "order 123456789012",      // 12 digits
            "41111111111111111111111", // 23 digits in one run
            "phone +49 30 1234 5678",
            "",
        ] {
            assert_eq!(mask_pans(text), None, "{text}");
        }
    }

    #[test]
    fn the_quick_test_agrees_with_the_masker() {
        for text in
            ["4111111111111111", "x 4111 1111 1111 1111 y", "41111111-11111111", "order 123456789012", "1-2-3-4-5-6-7-8-9-0-1-2", ""]
        {
            let expected = text.bytes().filter(u8::is_ascii_digit).count() >= MIN_DIGITS;
            assert_eq!(may_contain_pan(text.as_bytes()), expected, "{text}");
        }
        // Long digit-free stretches are skipped word by word; runs across word borders count.
        let line = format!("{}4111111111111111", "GET /abcdefgh?".repeat(5));
        assert!(may_contain_pan(line.as_bytes()));
        assert!(!may_contain_pan(b"10/Oct/2000:13:55:36 -0700 203.0.113.7 \"GET /a HTTP/1.1\" 200 2326"));
        for pan in TEST_PANS {
            assert!(may_contain_pan(pan.as_bytes()));
        }
    }

    proptest::proptest! {
        #[test]
        fn every_masked_line_was_flagged(text in "[0-9 a+%23BD-]{0,64}") {
            if mask_pans(&text).is_some() {
                proptest::prop_assert!(may_contain_pan(text.as_bytes()));
            }
        }
    }

    #[test]
    fn issue_11_url_encoded_card_numbers_are_masked_over_their_encoded_bytes() {
        for pan in TEST_PANS.iter().copied().chain(["4111111111111111003"]) {
            let groups: Vec<&str> = pan.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect();
            let encoded: String = pan.bytes().map(|b| format!("%{b:02X}")).collect();
            let first_encoded = format!("%3{}{}", &pan[..1], &pan[1..]);
            let spellings = [groups.join("+"), groups.join("%20"), groups.join("%2D"), groups.join("%2b"), encoded, first_encoded];
            for written in spellings {
                let text = format!("/pay?card={written}&x=1");
                assert!(may_contain_pan(text.as_bytes()), "{written}");
                let (masked, found) = mask_pans(&text).unwrap_or_else(|| panic!("{written} not found"));
                let expected = format!("/pay?card={}{}{}&x=1", &pan[..6], "*".repeat(pan.len() - 10), &pan[pan.len() - 4..]);
                assert_eq!(masked, expected, "{written}");
                assert_eq!(found.len(), 1);
                assert_eq!(found[0].digits, pan);
            }
        }
        // Encoded text that is no card stays as it was.
        for text in ["a%2041%20b", "%3A4111111111111112", "100%25 x 4111111111111112", "%34%31%31"] {
            assert_eq!(mask_pans(text), None, "{text}");
        }
    }

    #[test]
    fn issue_13_card_fields_describe_payment_card_number() {
        let protector = CardProtector::new(b"k");
        for mut record in [
            json!({"payment": {"card": {"number": "5555 5555 5555 4444"}}, "message": "was 4111111111111111"}),
            json!({"payment.card.number": 5555555555554444u64, "message": "was 4111111111111111"}),
            json!({"payment.card": {"number": "5555555555554444"}, "a": "4111111111111111"}),
        ] {
            protector.protect(&mut record);
            assert_eq!(record["payment"]["card"]["bin"], json!("555555"), "{record}");
            assert_eq!(record["payment"]["card"]["last4"], json!("4444"), "{record}");
            assert_eq!(record["payment"]["card"]["fingerprint"], json!(protector.fingerprint("5555555555554444")));
            assert!(!record.to_string().contains("4111111111111111"), "{record}");
        }
        // A card number field that holds no card number gives no card fields from elsewhere.
        let mut record = json!({"payment": {"card": {"number": "555555******4444"}}, "message": "4111111111111111"});
        protector.protect(&mut record);
        assert_eq!(record["payment"]["card"].get("bin"), None, "{record}");
        let mut value = json!({"payment": {"card": {"number": "x"}}});
        protector.add_card_fields(&mut value, &MaskedPan::new("4111111111111111".into()));
        assert_eq!(value["payment"]["card"].get("bin"), None);
    }

    #[test]
    fn issue_11_parsed_numbers_of_every_kind_are_masked() {
        let protector = CardProtector::new(b"k");
        let mut record = json!({"a": -5555555555554444i64, "b": 4111111111111111.0f64, "c": 1.5, "d": 9.5e15});
        protector.protect(&mut record);
        assert_eq!(record["a"], json!("555555******4444"));
        assert_eq!(record["b"], json!("411111******1111"));
        assert_eq!((record["c"].clone(), record["d"].clone()), (json!(1.5), json!(9.5e15)));
    }

    #[test]
    fn several_cards_and_trailing_groups() {
        let (masked, found) = mask_pans("a=4111111111111111&b=5555555555554444").unwrap();
        assert_eq!(masked, "a=411111******1111&b=555555******4444");
        assert_eq!(found.len(), 2);
        let (masked, _) = mask_pans("4111-1111-1111-1111 2024").unwrap();
        assert_eq!(masked, "411111******1111 2024");
    }

    #[test]
    fn records_are_masked_everywhere_and_fingerprinted() {
        let protector = CardProtector::new(b"k");
        let mut record = json!({
            "url": {"original": "/pay?card=4111111111111111"},
            "card_as_number": 5555555555554444u64,
            "4111111111111111": "a key",
            "list": ["x 4012888888881881 y"],
        });
        protector.protect(&mut record);
        let text = record.to_string();
        for pan in ["4111111111111111", "5555555555554444", "4012888888881881"] {
            assert!(!text.contains(pan), "{text}");
        }
        assert_eq!(record["card_as_number"], json!("555555******4444"));
        assert!(record["411111******1111"].is_string());
        assert_eq!(record["payment"]["card"]["fingerprint"], json!(protector.fingerprint("4111111111111111")));
        assert_eq!(record["payment"]["card"]["bin"], json!("411111"));
        // A different key gives a different fingerprint; the same key the same one.
        assert_ne!(CardProtector::new(b"other").fingerprint("4111111111111111"), protector.fingerprint("4111111111111111"));
        assert_eq!(protector.fingerprint("4111111111111111").len(), 64);
    }

    #[test]
    fn sender_card_details_are_kept() {
        let protector = CardProtector::new(b"k");
        let mut record = json!({"payment.card.last4": "9999", "note": "4111111111111111"});
        protector.protect(&mut record);
        assert_eq!(record["payment.card.last4"], json!("9999"));
        assert_eq!(record["payment"]["card"]["bin"], json!("411111"));
    }
}
