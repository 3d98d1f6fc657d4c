//! A bound on what a YAML file expands to: aliases replay their anchor, so a small file can stand
//! for billions of values; this walks a document once, counting, and stops at the bound.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// The most values (scalars, sequences and mappings, aliases expanded) one rule file may hold.
pub const MAX_EXPANDED_VALUES: usize = 200_000;
/// The most bytes of scalar text one rule file may hold once its aliases are expanded.
pub const MAX_EXPANDED_BYTES: usize = 4 * 1024 * 1024;

/// What is left of a file's allowance; shared by all its documents.
#[derive(Debug)]
pub(crate) struct Budget {
    values: usize,
    bytes: usize,
    /// Set when the allowance ran out, so the caller tells it from a YAML syntax error.
    pub(crate) exceeded: bool,
}

impl Budget {
    pub(crate) fn new() -> Budget {
        Budget { values: MAX_EXPANDED_VALUES, bytes: MAX_EXPANDED_BYTES, exceeded: false }
    }

    /// Walks one document, spending the allowance; fails as soon as it runs out.
    pub(crate) fn walk<'de, D: Deserializer<'de>>(&mut self, document: D) -> Result<(), D::Error> {
        Walk(self).deserialize(document)
    }

    fn spend<E: serde::de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        if self.values == 0 || self.bytes < bytes {
            self.exceeded = true;
            return Err(E::custom("the file expands beyond its allowance"));
        }
        self.values -= 1;
        self.bytes -= bytes;
        Ok(())
    }
}

/// One node of the walk: a seed and a visitor that count, keep nothing, and recurse.
struct Walk<'a>(&'a mut Budget);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.0.spend(1)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.0.spend(8)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.0.spend(8)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.0.spend(8)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.0.spend(text.len())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.spend(0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.spend(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<(), D::Error> {
        Walk(self.0).deserialize(inner)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.spend(0)?;
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.spend(0)?;
        while map.next_key_seed(Walk(&mut *self.0))?.is_some() {
            map.next_value_seed(Walk(&mut *self.0))?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`): the tag is a scalar, the value a node.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (tag, variant): (String, _) = data.variant()?;
        self.0.spend::<A::Error>(tag.len())?;
        variant.newtype_variant_seed(Walk(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(text: &str) -> Budget {
        let mut budget = Budget::new();
        for document in serde_norway::Deserializer::from_str(text) {
            if budget.walk(document).is_err() {
                break;
            }
        }
        budget
    }

    #[test]
    fn plain_files_stay_within_the_allowance() {
        let budget = walk("title: t\ndetection:\n  s: {a: [1, 2, x]}\n  condition: s\n---\nb: !tag v\n");
        assert!(!budget.exceeded);
        assert_eq!(MAX_EXPANDED_VALUES - budget.values, 18);
    }

    #[test]
    fn one_anchor_aliased_many_times_runs_out() {
        // 2,000 values aliased 200 times: 400,000 values from a 10 KB file.
        let anchor = (0..2_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let aliases = (0..200).map(|i| format!("  k{i}: *a\n")).collect::<String>();
        let text = format!("big: &a [{anchor}]\nmore:\n{aliases}");
        assert!(text.len() < 20_000);
        assert!(walk(&text).exceeded);
    }

    #[test]
    fn long_strings_aliased_run_out_of_bytes() {
        let text = format!("s: &s {}\nl: [{}]\n", "x".repeat(100_000), vec!["*s"; 50].join(", "));
        assert!(walk(&text).exceeded);
    }
}
