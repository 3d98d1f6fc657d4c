//! Where rules come from: the built-in set compiled into the binary, and rule directories.

use std::path::Path;

use crate::error::{RuleError, RuleErrorKind};
use crate::sigma::RuleFile;

/// The largest rule file read; bigger ones are refused unread.
pub const MAX_RULE_FILE_BYTES: u64 = 1024 * 1024;
/// The most bytes of rule files read from one directory tree, and compiled into one rule set.
pub const MAX_RULE_BYTES_TOTAL: u64 = 64 * 1024 * 1024;
/// The most rule files read from one directory tree.
const MAX_FILES: usize = 20_000;

/// The built-in rule pack: every rule file under `rules/` at the repository root (its `tests/`
/// folder excepted), embedded at build time, as `builtin:<path relative to rules/>`.
pub fn builtin_rules() -> Vec<RuleFile> {
    BUILTIN.iter().map(|(name, text)| RuleFile { name: format!("builtin:{name}"), text: (*text).to_owned() }).collect()
}

/// `(path relative to rules/, text)`, sorted by path; written by `build.rs`.
const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Reads a rule file, or every rule file under a directory. A missing path is an error.
pub fn read_rule_path(path: &Path) -> (Vec<RuleFile>, Vec<RuleError>) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => read_rule_dir(path),
        Ok(_) => {
            let mut files = Vec::new();
            let mut errors = Vec::new();
            read_file(path, &mut files, &mut errors);
            (files, errors)
        }
        Err(e) => (Vec::new(), vec![RuleError::new(&path.display().to_string(), None, None, RuleErrorKind::Io(e.to_string()))]),
    }
}

/// Reads every `.yml`/`.yaml` file under `dir` (recursively, in path order). A missing directory
/// is empty; unreadable or oversized files come back as errors.
pub fn read_rule_dir(dir: &Path) -> (Vec<RuleFile>, Vec<RuleError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut paths = Vec::new();
    collect(dir, &mut paths, &mut errors, 0);
    paths.sort();
    let mut total = 0;
    for path in paths.into_iter().take(MAX_FILES) {
        let size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
        if total + size > MAX_RULE_BYTES_TOTAL {
            let kind = RuleErrorKind::TotalTooLarge { total: total + size, limit: MAX_RULE_BYTES_TOTAL };
            errors.push(RuleError::new(&path.display().to_string(), None, None, kind));
            continue;
        }
        total += size;
        read_file(&path, &mut files, &mut errors);
    }
    (files, errors)
}

fn read_file(path: &Path, files: &mut Vec<RuleFile>, errors: &mut Vec<RuleError>) {
    let name = path.display().to_string();
    let error = |kind| RuleError::new(&name, None, None, kind);
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_RULE_FILE_BYTES => {
            return errors.push(error(RuleErrorKind::TooLarge { size: meta.len(), limit: MAX_RULE_FILE_BYTES }));
        }
        Err(e) => return errors.push(error(RuleErrorKind::Io(e.to_string()))),
        Ok(_) => {}
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => files.push(RuleFile { name, text }),
            Err(_) => errors.push(error(RuleErrorKind::Yaml("the file is not UTF-8".to_owned()))),
        },
        Err(e) => errors.push(error(RuleErrorKind::Io(e.to_string()))),
    }
}

/// Whether a path is a rule file by its extension.
pub fn is_rule_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>, errors: &mut Vec<RuleError>, depth: usize) {
    if depth > 16 || out.len() > MAX_FILES {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            errors.push(RuleError::new(&dir.display().to_string(), None, None, RuleErrorKind::Io(e.to_string())));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        match entry.file_type() {
            Ok(kind) if kind.is_dir() && !hidden => collect(&path, out, errors, depth + 1),
            Ok(kind) if kind.is_file() && !hidden && is_rule_file(&path) => out.push(path),
            _ => {}
        }
    }
}
