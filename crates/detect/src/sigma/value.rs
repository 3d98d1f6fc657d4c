//! Sigma string values: wildcards and escapes, and the transforming modifiers (base64, utf16, windash, expand).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Windash variants beyond this many (5 characters per dash) are refused.
const MAX_VARIANTS: usize = 625;

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Piece {
    /// Plain text.
    Text(String),
    /// `*`: any run of characters.
    Many,
    /// `?`: exactly one character.
    One,
}

/// A Sigma string value: text with `*` and `?` wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct SigmaString {
    pub(crate) pieces: Vec<Piece>,
}

impl SigmaString {
    /// Reads a value as written in a rule: `*` and `?` are wildcards, `\*`, `\?` and `\\` are the
    /// characters themselves, a backslash before anything else is a backslash.
    pub(crate) fn parse(raw: &str) -> SigmaString {
        let mut out = SigmaString::default();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => out.push_wildcard(Piece::Many),
                '?' => out.push_wildcard(Piece::One),
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(next);
                    }
                    _ => out.push_char('\\'),
                },
                c => out.push_char(c),
            }
        }
        out
    }

    /// A value with no wildcards.
    pub(crate) fn plain(text: &str) -> SigmaString {
        let mut out = SigmaString::default();
        if !text.is_empty() {
            out.pieces.push(Piece::Text(text.to_owned()));
        }
        out
    }

    fn push_char(&mut self, c: char) {
        match self.pieces.last_mut() {
            Some(Piece::Text(text)) => text.push(c),
            _ => self.pieces.push(Piece::Text(c.to_string())),
        }
    }

    fn push_text(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }

    fn push_wildcard(&mut self, piece: Piece) {
        // `**` is `*`; keeping one avoids needless regex work.
        if piece == Piece::Many && self.pieces.last() == Some(&Piece::Many) {
            return;
        }
        self.pieces.push(piece);
    }

    /// The whole text when the value has no wildcards.
    pub(crate) fn as_plain(&self) -> Option<String> {
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Many | Piece::One => return None,
            }
        }
        Some(text)
    }

    /// `*value*`, `value*` or `*value` without doubling wildcards already there.
    pub(crate) fn wrap(&mut self, before: bool, after: bool) {
        if before && self.pieces.first() != Some(&Piece::Many) {
            self.pieces.insert(0, Piece::Many);
        }
        if after && self.pieces.last() != Some(&Piece::Many) {
            self.pieces.push(Piece::Many);
        }
    }

    /// The longest plain run, the best literal to look for first.
    pub(crate) fn longest_text(&self) -> Option<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .max_by_key(|t| t.len())
    }
}

/// A transforming modifier, applied in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
    Windash,
    Expand,
}

/// A value on its way through transforms: wildcard text, or bytes after a UTF-16 encoding.
#[derive(Debug, Clone)]
enum Stage {
    Text(SigmaString),
    Bytes(Vec<u8>),
}

/// Applies `transforms` in order to one value; the result is the values it expands to (OR-ed).
pub(crate) fn apply_transforms(
    value: SigmaString,
    transforms: &[Transform],
    placeholders: &HashMap<String, Vec<String>>,
) -> Result<Vec<SigmaString>, String> {
    let mut stages = vec![Stage::Text(value)];
    for transform in transforms {
        let mut next = Vec::new();
        for stage in stages {
            match (transform, stage) {
                (Transform::Expand, Stage::Text(s)) => next.extend(expand(&s, placeholders)?.into_iter().map(Stage::Text)),
                (Transform::Windash, Stage::Text(s)) => next.extend(windash(&s)?.into_iter().map(Stage::Text)),
                (Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom, Stage::Text(s)) => {
                    let text = s.as_plain().ok_or("utf16 encoding of a value with wildcards is not possible")?;
                    next.push(Stage::Bytes(utf16(&text, *transform)));
                }
                (Transform::Base64 | Transform::Base64Offset, stage) => {
                    let bytes = match stage {
                        Stage::Bytes(bytes) => bytes,
                        Stage::Text(s) => s.as_plain().ok_or("base64 encoding of a value with wildcards is not possible")?.into_bytes(),
                    };
                    if *transform == Transform::Base64 {
                        next.push(Stage::Text(SigmaString::plain(&STANDARD.encode(&bytes))));
                    } else {
                        next.extend(base64_offsets(&bytes).into_iter().map(|s| Stage::Text(SigmaString::plain(&s))));
                    }
                }
                (_, Stage::Bytes(_)) => return Err("a utf16 modifier must be followed by base64 or base64offset".to_owned()),
            }
        }
        stages = next;
        if stages.len() > MAX_VARIANTS {
            return Err(format!("the modifiers expand one value into more than {MAX_VARIANTS} values"));
        }
    }
    stages
        .into_iter()
        .map(|stage| match stage {
            Stage::Text(s) => Ok(s),
            Stage::Bytes(_) => Err("a utf16 modifier must be followed by base64 or base64offset".to_owned()),
        })
        .collect()
}

fn utf16(text: &str, transform: Transform) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() * 2 + 2);
    if transform == Transform::Utf16Bom {
        bytes.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        let pair = if transform == Transform::Utf16Be { unit.to_be_bytes() } else { unit.to_le_bytes() };
        bytes.extend_from_slice(&pair);
    }
    bytes
}

/// The three base64 forms of `bytes` at offsets 0, 1 and 2 of an encoded stream, trimmed to the
/// characters that do not depend on the neighbouring bytes (as pySigma does).
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|shift| {
            let mut shifted = vec![b' '; shift];
            shifted.extend_from_slice(bytes);
            let encoded = STANDARD.encode(&shifted);
            let end = encoded.len().saturating_sub(END_TRIM[(bytes.len() + shift) % 3]);
            encoded.get(START[shift]..end.max(START[shift])).unwrap_or_default().to_owned()
        })
        .collect()
}

/// Every variant of a value with each flag dash (`-` or `/` starting a word) written as any of
/// `-`, `/`, en dash, em dash or horizontal bar.
fn windash(value: &SigmaString) -> Result<Vec<SigmaString>, String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut variants = vec![SigmaString::default()];
    for piece in &value.pieces {
        let Piece::Text(text) = piece else {
            variants.iter_mut().for_each(|v| v.push_wildcard(piece.clone()));
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            // A word character as in pySigma's `\B[-/]\b`: letters, digits and `_`.
            let word = |c: &char| c.is_alphanumeric() || *c == '_';
            let starts_word = i == 0 || !word(&chars[i - 1]);
            let before_word = chars.get(i + 1).is_some_and(word);
            if DASHES.contains(&c) && starts_word && before_word {
                variants = variants
                    .into_iter()
                    .flat_map(|v| {
                        DASHES.iter().map(move |dash| {
                            let mut v = v.clone();
                            v.push_char(*dash);
                            v
                        })
                    })
                    .collect();
                if variants.len() > MAX_VARIANTS {
                    return Err(format!("windash expands the value into more than {MAX_VARIANTS} variants"));
                }
            } else {
                variants.iter_mut().for_each(|v| v.push_char(c));
            }
        }
    }
    Ok(variants)
}

/// Replaces `%name%` placeholders with each of their values (`\%` is a plain percent sign).
fn expand(value: &SigmaString, placeholders: &HashMap<String, Vec<String>>) -> Result<Vec<SigmaString>, String> {
    let mut variants = vec![SigmaString::default()];
    for piece in &value.pieces {
        let Piece::Text(text) = piece else {
            variants.iter_mut().for_each(|v| v.push_wildcard(piece.clone()));
            continue;
        };
        let mut rest = text.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("\\%") {
                variants.iter_mut().for_each(|v| v.push_char('%'));
                rest = after;
            } else if let Some(after) = rest.strip_prefix('%')
                && let Some(end) = after.find('%')
            {
                let name = &after[..end];
                let values = placeholders
                    .get(name)
                    .ok_or_else(|| format!("placeholder %{name}% is not defined (define it under `placeholders` in the field mapping)"))?;
                variants = variants
                    .into_iter()
                    .flat_map(|v| {
                        values.iter().map(move |value| {
                            let mut v = v.clone();
                            // A placeholder value may carry wildcards of its own.
                            for piece in SigmaString::parse(value).pieces {
                                match piece {
                                    Piece::Text(t) => v.push_text(&t),
                                    other => v.push_wildcard(other),
                                }
                            }
                            v
                        })
                    })
                    .collect();
                if variants.len() > MAX_VARIANTS {
                    return Err(format!("placeholders expand the value into more than {MAX_VARIANTS} values"));
                }
                rest = &after[end + 1..];
            } else {
                let c = rest.chars().next().unwrap_or('%');
                variants.iter_mut().for_each(|v| v.push_char(c));
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.to_owned())
    }

    #[test]
    fn wildcards_and_escapes_follow_the_specification() {
        assert_eq!(SigmaString::parse("a*b?c").pieces, vec![text("a"), Piece::Many, text("b"), Piece::One, text("c")]);
        assert_eq!(SigmaString::parse(r"a\*b").pieces, vec![text("a*b")]);
        assert_eq!(SigmaString::parse(r"a\?b").pieces, vec![text("a?b")]);
        // A plain backslash: single, or doubled.
        assert_eq!(SigmaString::parse(r"C:\Windows").as_plain().as_deref(), Some(r"C:\Windows"));
        assert_eq!(SigmaString::parse(r"C:\\Windows").as_plain().as_deref(), Some(r"C:\Windows"));
        // `\\*`: a backslash followed by a wildcard.
        assert_eq!(SigmaString::parse(r"a\\*").pieces, vec![text(r"a\"), Piece::Many]);
        // `\\\*`: a backslash and a star, both plain.
        assert_eq!(SigmaString::parse(r"a\\\*").pieces, vec![text(r"a\*")]);
        // Four backslashes are two.
        assert_eq!(SigmaString::parse(r"\\\\").as_plain().as_deref(), Some(r"\\"));
        assert_eq!(SigmaString::parse("**a").pieces, vec![Piece::Many, text("a")]);
    }

    #[test]
    fn wrapping_does_not_double_wildcards() {
        let mut s = SigmaString::parse("*a");
        s.wrap(true, true);
        assert_eq!(s.pieces, vec![Piece::Many, text("a"), Piece::Many]);
    }

    fn run(value: &str, transforms: &[Transform]) -> Vec<String> {
        apply_transforms(SigmaString::parse(value), transforms, &HashMap::new())
            .unwrap()
            .into_iter()
            .map(|s| s.as_plain().unwrap())
            .collect()
    }

    #[test]
    fn base64_and_offsets_match_the_specification() {
        assert_eq!(run("/bin/bash", &[Transform::Base64]), vec!["L2Jpbi9iYXNo"]);
        // pySigma's three offsets for "/bin/bash".
        assert_eq!(run("/bin/bash", &[Transform::Base64Offset]), vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
        assert_eq!(run("ping", &[Transform::Base64Offset]), vec!["cGluZ", "Bpbm", "waW5n"]);
    }

    #[test]
    fn utf16_needs_base64() {
        assert_eq!(run("cmd", &[Transform::Utf16Le, Transform::Base64]), vec![STANDARD.encode([0x63, 0, 0x6d, 0, 0x64, 0])]);
        assert_eq!(run("cmd", &[Transform::Utf16Be, Transform::Base64]), vec![STANDARD.encode([0, 0x63, 0, 0x6d, 0, 0x64])]);
        assert_eq!(run("cmd", &[Transform::Utf16Bom, Transform::Base64]), vec![STANDARD.encode([0xFF, 0xFE, 0x63, 0, 0x6d, 0, 0x64, 0])]);
        let error = apply_transforms(SigmaString::parse("cmd"), &[Transform::Utf16Le], &HashMap::new()).unwrap_err();
        assert!(error.contains("base64"), "{error}");
        let error = apply_transforms(SigmaString::parse("c*d"), &[Transform::Base64], &HashMap::new()).unwrap_err();
        assert!(error.contains("wildcards"), "{error}");
    }

    #[test]
    fn windash_makes_every_permutation_of_flag_dashes() {
        let variants = run("-a /b", &[Transform::Windash]);
        assert_eq!(variants.len(), 25);
        assert!(variants.contains(&"-a /b".to_owned()));
        assert!(variants.contains(&"/a -b".to_owned()));
        assert!(variants.contains(&"\u{2013}a \u{2015}b".to_owned()));
        // A dash inside a word is not a flag.
        assert_eq!(run("foo-bar", &[Transform::Windash]), vec!["foo-bar"]);
        let many = apply_transforms(SigmaString::parse("-a -b -c -d -e"), &[Transform::Windash], &HashMap::new());
        assert!(many.is_err());
    }

    #[test]
    fn expand_replaces_placeholders() {
        let placeholders = HashMap::from([("admins".to_owned(), vec!["root".to_owned(), "adm*".to_owned()])]);
        let out = apply_transforms(SigmaString::parse(r"\%x%admins%"), &[Transform::Expand], &placeholders).unwrap();
        assert_eq!(out[0].as_plain().as_deref(), Some("%xroot"));
        assert_eq!(out[1].pieces, vec![text("%xadm"), Piece::Many]);
        let error = apply_transforms(SigmaString::parse("%nope%"), &[Transform::Expand], &placeholders).unwrap_err();
        assert!(error.contains("%nope%"), "{error}");
    }
}
