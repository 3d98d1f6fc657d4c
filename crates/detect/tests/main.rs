//! probe
use rampart_detect::*;
use std::collections::HashSet;
#[test]
fn probe() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigmahq");
    let (files, errs) = read_rule_dir(&dir);
    println!("files {} read errors {:?}", files.len(), errs);
    let c = compile_rules(&files, &FieldMapping::builtin(), &HashSet::new());
    println!("rules {} errors {}", c.rules.len(), c.errors.len());
    for e in &c.errors {
        println!("{e} -- {:?}", e.kind);
    }
    let routed = c.rules.iter().filter(|r| r.routed).count();
    println!("routed {routed}");
    for r in c.rules.iter().filter(|r| r.routed) {
        println!("  {:?} {}", r.logsource, r.file);
    }
}
