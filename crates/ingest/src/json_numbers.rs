//! Card numbers written as JSON numbers, found in the JSON text as written.
//!
//! Parsed into an `f64`, `4.111111111111111e15` loses the way it was written and a 19-digit card
//! number with a fraction keeps only its first 16 digits, so masking the parsed value cannot
//! find them. [`quote_card_numbers`] reads the text before it is parsed: every number token
//! that is a card number becomes a JSON string holding its digits, which the masking of strings
//! then masks like any other. Every other number is left as it was, so parsing, money and
//! number comparisons see exactly what they saw before.

use std::borrow::Cow;

use memchr::memchr2;

use crate::pan::{is_pan, mask_pans};

/// The most digits a card number has.
const MAX_DIGITS: usize = 19;
/// The fewest digits a card number has: shorter plain integers are skipped without a look.
const MIN_DIGITS: usize = 13;

/// `json` with every number token that is a card number written as a string: integers
/// (`-5555555555554444` becomes `"-5555555555554444"`), numbers whose text holds one
/// (`4111111111111111.0`, `4111111111111111003.5`) and numbers whose value is one
/// (`4.111111111111111e15` becomes `"4111111111111111"`). Strings and invalid JSON are left
/// as they are (the parser reports the latter). Allocates only when a number is rewritten.
pub fn quote_card_numbers(json: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => i = string_end(json, i + 1),
            b'-' | b'0'..=b'9' => {
                let end = i + json[i..].iter().take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
                if let Some(text) = card_number_text(&json[i..end]) {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(json.len() + 8));
                    out.extend_from_slice(&json[copied..i]);
                    out.push(b'"');
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'"');
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.extend_from_slice(&json[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(json),
    }
}

/// [`quote_card_numbers`] on text.
pub fn quote_card_numbers_str(json: &str) -> Cow<'_, str> {
    match quote_card_numbers(json.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(json),
        // Only ASCII number tokens were replaced by ASCII strings.
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
    }
}

/// The index after the string whose content starts at `i` (past its closing quote), or the end.
fn string_end(json: &[u8], mut i: usize) -> usize {
    while let Some(at) = json.get(i..).and_then(|rest| memchr2(b'"', b'\\', rest)) {
        let at = i + at;
        if json[at] == b'"' {
            return at + 1;
        }
        i = at + 2; // past the escaped byte
    }
    json.len()
}

/// What a number token that is a card number becomes (its text, or its integer value's digits
/// with its sign), or `None`.
fn card_number_text(token: &[u8]) -> Option<String> {
    let unsigned = token.strip_prefix(b"-").unwrap_or(token);
    if unsigned.iter().all(u8::is_ascii_digit) {
        // A plain integer, the common case: a card only with 13–19 digits.
        if unsigned.len() < MIN_DIGITS || unsigned.len() > MAX_DIGITS {
            return None;
        }
        let text = std::str::from_utf8(token).ok()?;
        return is_pan(std::str::from_utf8(unsigned).ok()?).then(|| text.to_owned());
    }
    let text = std::str::from_utf8(token).ok()?;
    if mask_pans(text).is_some() {
        return Some(text.to_owned());
    }
    let digits = integer_digits(std::str::from_utf8(unsigned).ok()?)?;
    is_pan(&digits).then(|| if unsigned.len() < token.len() { format!("-{digits}") } else { digits })
}

/// The digits of an unsigned JSON number's value when it is an integer of at most 19 digits
/// (`4.111111111111111e15` → `4111111111111111`, `3530111333300000.000` → `3530111333300000`).
fn integer_digits(number: &str) -> Option<String> {
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(at) => (&number[..at], number[at + 1..].parse::<i64>().ok()?),
        None => (number, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all: String = [int, frac].concat();
    let significant = all.trim_start_matches('0');
    // The value is `significant × 10^shift`.
    let shift = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
    if significant.is_empty() {
        return None;
    }
    if shift >= 0 {
        let zeros = usize::try_from(shift).ok().filter(|z| significant.len() + z <= MAX_DIGITS)?;
        Some(format!("{significant}{}", "0".repeat(zeros)))
    } else {
        let cut = usize::try_from(shift.unsigned_abs()).ok()?;
        let keep = significant.len().checked_sub(cut).filter(|&keep| keep > 0)?;
        let (integer, fraction) = significant.split_at(keep);
        (integer.len() <= MAX_DIGITS && fraction.bytes().all(|b| b == b'0')).then(|| integer.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(json: &str) -> String {
        quote_card_numbers_str(json).into_owned()
    }

    #[test]
    fn issue_11_json_numbers_of_every_form_are_quoted() {
        let cases = [
            (r#"{"c":4111111111111111}"#, r#"{"c":"4111111111111111"}"#),
            (r#"{"c":4111111111111111.0}"#, r#"{"c":"4111111111111111.0"}"#),
            (r#"{"c":4.111111111111111e15}"#, r#"{"c":"4111111111111111"}"#),
            (r#"{"c":4.111111111111111E+15}"#, r#"{"c":"4111111111111111"}"#),
            (r#"{"c":-5555555555554444}"#, r#"{"c":"-5555555555554444"}"#),
            (r#"{"c":-5.555555555554444e15}"#, r#"{"c":"-5555555555554444"}"#),
            (r#"{"c":3.5301113333e15}"#, r#"{"c":"3530111333300000"}"#),
            (r#"{"c":35301113333000000e-1}"#, r#"{"c":"3530111333300000"}"#),
            (r#"[4111111111111111003.0, 1]"#, r#"["4111111111111111003.0", 1]"#),
            (r#"[4.111111111111111003e18]"#, r#"["4111111111111111003"]"#),
            (r#"{"a": 1.5, "b": -3, "c": 1e400, "d": 4111111111111112.0}"#, r#"{"a": 1.5, "b": -3, "c": 1e400, "d": 4111111111111112.0}"#),
            // Inside strings nothing changes (string masking sees those), escapes included.
            (
                r#"{"s":"x\" 4.111111111111111e15 \\","n":4111111111111111}"#,
                r#"{"s":"x\" 4.111111111111111e15 \\","n":"4111111111111111"}"#,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(quoted(json), expected, "{json}");
        }
        assert!(matches!(quote_card_numbers(br#"{"status":200,"bytes":512.5}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn values_that_are_no_integer_card_are_kept() {
        for number in ["4.1111111111111115e15", "0", "1e19", "4111111111111112e-1", "2e999999999999999999999", "-", "1.2.3"] {
            assert_eq!(card_number_text(number.as_bytes()), None, "{number}");
        }
        assert_eq!(integer_digits("0.0"), None);
        assert_eq!(integer_digits("42.000e1"), Some("420".into()));
    }
}
