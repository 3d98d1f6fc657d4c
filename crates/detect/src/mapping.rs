//! The field mapping: Sigma field names to Rampart's ECS paths, logsources to the events they
//! cover, and `expand` placeholders. A built-in default, replaceable by a user's YAML file.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::MappingError;
use crate::sigma::LogSource;

/// The default mapping, also written to `docs/detection.md`.
pub const DEFAULT_MAPPING: &str = include_str!("../mapping/default.yml");

/// Which events a logsource stands for: every `when` field must hold one of its values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSourceRoute {
    /// The logsource values this route answers to; a rule's logsource matches when each key the
    /// rule sets is listed here.
    pub logsource: RouteKeys,
    /// Event fields (ECS paths) and the values that put an event on this route (case-insensitive;
    /// for list fields, any element).
    #[serde(default)]
    pub when: HashMap<String, OneOrMany>,
}

/// The keys of a route: each a value or a list of values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteKeys {
    /// Accepted `category` values.
    pub category: Option<OneOrMany>,
    /// Accepted `product` values.
    pub product: Option<OneOrMany>,
    /// Accepted `service` values.
    pub service: Option<OneOrMany>,
}

/// A YAML scalar or list of scalars.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

/// The mapping file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    fields: HashMap<String, String>,
    #[serde(default)]
    logsources: Vec<LogSourceRoute>,
    #[serde(default)]
    placeholders: HashMap<String, Vec<String>>,
}

/// A checked field mapping.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    fields: HashMap<String, String>,
    routes: Vec<LogSourceRoute>,
    placeholders: HashMap<String, Vec<String>>,
}

/// At most this many logsource routes (a route set is a 64-bit mask).
pub const MAX_ROUTES: usize = 64;

impl FieldMapping {
    /// The built-in mapping.
    pub fn builtin() -> FieldMapping {
        // The default is part of the binary and checked by a test.
        FieldMapping::parse("builtin", DEFAULT_MAPPING).unwrap_or_else(|_| FieldMapping::empty())
    }

    /// A mapping that maps and routes nothing.
    pub(crate) fn empty() -> FieldMapping {
        FieldMapping { fields: HashMap::new(), routes: Vec::new(), placeholders: HashMap::new() }
    }

    /// Reads a mapping file's text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<FieldMapping, MappingError> {
        let invalid = |message: String| MappingError::Invalid { path: path.to_owned(), message };
        let file: MappingFile = serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.logsources.len() > MAX_ROUTES {
            return Err(invalid(format!("at most {MAX_ROUTES} logsources may be defined")));
        }
        for route in &file.logsources {
            let keys = &route.logsource;
            if keys.category.is_none() && keys.product.is_none() && keys.service.is_none() {
                return Err(invalid("a logsource needs at least one of category, product, service".to_owned()));
            }
        }
        if let Some((name, _)) = file.fields.iter().find(|(name, path)| name.is_empty() || path.is_empty()) {
            return Err(invalid(format!("field `{name}` maps to an empty name")));
        }
        Ok(FieldMapping { fields: file.fields, routes: file.logsources, placeholders: file.placeholders })
    }

    /// Reads a mapping file from disk.
    pub fn load(path: &std::path::Path) -> Result<FieldMapping, MappingError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| MappingError::Io { path: path.display().to_string(), message: e.to_string() })?;
        FieldMapping::parse(&path.display().to_string(), &text)
    }

    /// The ECS path a rule's field name stands for: its mapping, or the name itself.
    pub fn field<'a>(&'a self, sigma_name: &'a str) -> &'a str {
        self.fields.get(sigma_name).map_or(sigma_name, String::as_str)
    }

    /// The logsource routes, in file order.
    pub fn routes(&self) -> &[LogSourceRoute] {
        &self.routes
    }

    /// The values of `expand` placeholders.
    pub fn placeholders(&self) -> &HashMap<String, Vec<String>> {
        &self.placeholders
    }

    /// The routes (as a bit mask) that a rule's logsource matches.
    pub fn routes_for(&self, logsource: &LogSource) -> u64 {
        let accepts = |keys: &Option<OneOrMany>, value: &Option<String>| match (keys, value) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(keys), Some(value)) => keys.values().iter().any(|k| k.eq_ignore_ascii_case(value)),
        };
        let mut mask = 0;
        for (index, route) in self.routes.iter().enumerate() {
            let keys = &route.logsource;
            let any = logsource.category.is_some() || logsource.product.is_some() || logsource.service.is_some();
            if any
                && accepts(&keys.category, &logsource.category)
                && accepts(&keys.product, &logsource.product)
                && accepts(&keys.service, &logsource.service)
            {
                mask |= 1 << index;
            }
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mapping_loads() {
        let mapping = FieldMapping::parse("builtin", DEFAULT_MAPPING).unwrap();
        assert_eq!(mapping.field("cs-uri-query"), "url.original");
        assert_eq!(mapping.field("c-ip"), "source.ip");
        assert_eq!(mapping.field("user.name"), "user.name");
        let web = LogSource { category: Some("webserver".into()), ..LogSource::default() };
        assert_ne!(mapping.routes_for(&web), 0);
        let windows = LogSource { category: Some("process_creation".into()), product: Some("windows".into()), ..LogSource::default() };
        assert_eq!(mapping.routes_for(&windows), 0);
    }

    #[test]
    fn bad_mappings_are_refused() {
        assert!(FieldMapping::parse("m.yml", "fields: [1, 2]").is_err());
        assert!(FieldMapping::parse("m.yml", "colour: red").is_err());
        assert!(FieldMapping::parse("m.yml", "logsources:\n  - logsource: {}\n").is_err());
    }
}
