//! Embeds the rule pack: every `.yml`/`.yaml` file under the repository's `rules/` (except its
//! `tests/` folder and hidden entries) becomes an entry of `$OUT_DIR/builtin_rules.rs`, a table
//! of `(path relative to rules/, include_str!(file))` that `ruleset.rs` includes. Adding a rule
//! file is enough: Cargo reruns this script when anything under `rules/` changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("../../rules");
    println!("cargo:rerun-if-changed=../../rules");
    let mut files = Vec::new();
    collect(&root, "", &mut files)?;
    files.sort();
    let mut table = String::from("&[\n");
    for (name, path) in &files {
        writeln!(table, "    ({name:?}, include_str!({:?})),", path.display().to_string())?;
    }
    table.push_str("]\n");
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR")?).join("builtin_rules.rs"), table)?;
    Ok(())
}

/// Adds the rule files under `dir` (whose path relative to `rules/` is `prefix`) to `out`.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the rule pack at {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if name.starts_with('.') || (prefix.is_empty() && name == "tests") {
            continue;
        }
        let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(&entry.path(), &relative, out)?;
        } else if kind.is_file() && (name.ends_with(".yml") || name.ends_with(".yaml")) {
            out.push((relative, entry.path().canonicalize()?));
        }
    }
    Ok(())
}
