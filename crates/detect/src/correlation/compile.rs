//! Correlation documents resolved against the loaded rules: references by id or name, cycles,
//! aliases, the field mapping, `generate`, and correlations made inert by disabled rules.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::correlation::{CorrelationSpec, CorrelationType};
use crate::error::{RuleError, RuleErrorKind};
use crate::mapping::FieldMapping;
use crate::sigma::document::{CorrelationDocument, Document, SourcedDocument};
use crate::sigma::{LogSource, RuleInfo};

/// What planning needs to know of a loaded single-event rule.
#[derive(Debug)]
pub(crate) struct BaseRule<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: Option<&'a str>,
    pub(crate) disabled: bool,
    pub(crate) routed: bool,
    pub(crate) version: &'a str,
}

/// One rule a correlation reads, with the event fields it reads from that rule's matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Input {
    /// The rule's id.
    pub(crate) rule: String,
    /// The event field of each group-by name, in group-by order.
    pub(crate) group_fields: Vec<String>,
    /// The measured field (`value_*`).
    pub(crate) value_field: Option<String>,
}

/// A correlation resolved, before its [`RuleInfo`] is shared.
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) info: RuleInfo,
    pub(crate) inputs: Vec<Input>,
    /// A fingerprint of everything its state depends on: its own text, the fields it reads and
    /// the rules it reads (recursively). State is kept across reloads only when it is unchanged.
    pub(crate) state_version: u64,
    /// Whether it runs: not disabled, not inert.
    pub(crate) active: bool,
}

/// One correlation as the [`Correlator`](crate::Correlator) runs it.
#[derive(Debug)]
pub(crate) struct CompiledCorrelation {
    pub(crate) info: Arc<RuleInfo>,
    pub(crate) spec: Arc<CorrelationSpec>,
    pub(crate) inputs: Vec<Input>,
    /// The group-by names hits carry: the event field of the first rule for each group-by name.
    pub(crate) output_names: Vec<String>,
    pub(crate) state_version: u64,
}

/// The active correlations of a rule set, in dependency order (a correlation after the ones it
/// reads), and which of them read each rule. Cheap to clone (shared).
#[derive(Debug, Default, Clone)]
pub struct CorrelationSet {
    inner: Arc<SetInner>,
}

#[derive(Debug, Default)]
struct SetInner {
    correlations: Vec<CompiledCorrelation>,
    /// Rule id → (correlation index, input index) of every correlation input it feeds.
    readers: HashMap<String, Vec<(usize, usize)>>,
    /// Every event field the correlations read (group-by and measured fields), each once.
    fields: Vec<String>,
}

impl CorrelationSet {
    pub(crate) fn build(planned: Vec<(Arc<RuleInfo>, Vec<Input>, u64)>) -> CorrelationSet {
        let mut set = SetInner::default();
        for (info, inputs, state_version) in planned {
            let Some(spec) = info.correlation.clone() else { continue };
            let index = set.correlations.len();
            for (input_index, input) in inputs.iter().enumerate() {
                set.readers.entry(input.rule.clone()).or_default().push((index, input_index));
                for field in input.group_fields.iter().chain(&input.value_field) {
                    if !set.fields.contains(field) {
                        set.fields.push(field.clone());
                    }
                }
            }
            let output_names = inputs.first().map(|input| input.group_fields.clone()).unwrap_or_default();
            set.correlations.push(CompiledCorrelation { info, spec, inputs, output_names, state_version });
        }
        CorrelationSet { inner: Arc::new(set) }
    }

    /// Every event field the correlations read (group-by and measured fields), each once.
    pub fn fields(&self) -> &[String] {
        &self.inner.fields
    }

    /// How many correlations run.
    pub fn len(&self) -> usize {
        self.inner.correlations.len()
    }

    /// Whether no correlation runs.
    pub fn is_empty(&self) -> bool {
        self.inner.correlations.is_empty()
    }

    /// The correlations that run, inner ones first.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleInfo>> {
        self.inner.correlations.iter().map(|c| &c.info)
    }

    pub(crate) fn correlations(&self) -> &[CompiledCorrelation] {
        &self.inner.correlations
    }

    /// The (correlation, input) pairs that read the matches or hits of a rule.
    pub(crate) fn readers(&self, rule: &str) -> &[(usize, usize)] {
        self.inner.readers.get(rule).map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Base(usize),
    Correlation(usize),
}

/// Resolves the correlation documents against the loaded rules. Returns the correlations that
/// load (in dependency order) and, for every rule a loaded correlation names, whether its matches
/// still raise alerts (`generate`). Refusals go to `errors`; inert correlations to `warnings`.
pub(crate) fn plan_correlations(
    documents: &[SourcedDocument],
    base: &[BaseRule<'_>],
    mapping: &FieldMapping,
    disabled: &HashSet<String>,
    errors: &mut Vec<RuleError>,
    warnings: &mut Vec<RuleError>,
) -> (Vec<Planned>, HashMap<String, bool>) {
    let docs: Vec<(&SourcedDocument, &CorrelationDocument)> = documents
        .iter()
        .filter_map(|sourced| match &sourced.document {
            Document::Correlation(correlation) => Some((sourced, correlation)),
            _ => None,
        })
        .collect();
    let ids: Vec<String> = docs.iter().map(|(_, doc)| doc.id.clone().unwrap_or_else(|| doc.title.clone())).collect();

    // Ids and names, base rules first.
    let mut by_id: HashMap<&str, Target> = HashMap::new();
    let mut by_name: HashMap<&str, Vec<Target>> = HashMap::new();
    for (index, rule) in base.iter().enumerate() {
        by_id.insert(rule.id, Target::Base(index));
        if let Some(name) = rule.name {
            by_name.entry(name).or_default().push(Target::Base(index));
        }
    }
    let mut refused: Vec<Option<RuleError>> = vec![None; docs.len()];
    for (index, (sourced, doc)) in docs.iter().enumerate() {
        let id = ids[index].as_str();
        if by_id.contains_key(id) {
            refused[index] = Some(sourced.error("id", RuleErrorKind::Invalid(format!("rule id {id} is already used by another rule"))));
            continue;
        }
        by_id.insert(id, Target::Correlation(index));
        if let Some(name) = &doc.name {
            by_name.entry(name.as_str()).or_default().push(Target::Correlation(index));
        }
    }
    let label = |target: Target| match target {
        Target::Base(index) => base[index].id.to_owned(),
        Target::Correlation(index) => ids[index].clone(),
    };
    let resolve = |reference: &str| -> Result<Target, String> {
        if let Some(target) = by_id.get(reference) {
            return Ok(*target);
        }
        match by_name.get(reference).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(many) => Err(format!(
                "the name `{reference}` is used by several rules ({}); name the rule by its id",
                many.iter().map(|t| label(*t)).collect::<Vec<_>>().join(", ")
            )),
            None => Err(format!("the correlation names `{reference}`, which is not a loaded rule (by id or name)")),
        }
    };

    // References.
    let mut targets: Vec<Vec<Target>> = vec![Vec::new(); docs.len()];
    let mut aliases: Vec<HashMap<String, Vec<(Target, String)>>> = vec![HashMap::new(); docs.len()];
    for (index, (sourced, doc)) in docs.iter().enumerate() {
        if refused[index].is_some() {
            continue;
        }
        match resolve_references(sourced, doc, &resolve) {
            Ok((resolved, resolved_aliases)) => {
                if let Some(position) = resolved.iter().position(|t| *t == Target::Correlation(index)) {
                    refused[index] = Some(sourced.error(
                        &format!("{}\nrules:", doc.body.rules[position]),
                        RuleErrorKind::Invalid(format!("reference cycle: {0} → {0}", ids[index])),
                    ));
                    continue;
                }
                if let Some(duplicate) = first_repeat(&resolved) {
                    refused[index] = Some(sourced.error(
                        "rules:",
                        RuleErrorKind::Invalid(format!("`rules` names the rule {} twice (by id and by name)", label(duplicate))),
                    ));
                    continue;
                }
                targets[index] = resolved;
                aliases[index] = resolved_aliases;
            }
            Err(error) => refused[index] = Some(error),
        }
    }

    // Dependency order; what is left over sits on, or behind, a cycle.
    let order = dependency_order(&targets);
    let ordered: HashSet<usize> = order.iter().copied().collect();
    for index in 0..docs.len() {
        if refused[index].is_none() && !ordered.contains(&index) {
            let (cycle, on_it) = find_cycle(index, &targets, &ordered);
            let path = cycle.iter().map(|i| ids[*i].as_str()).collect::<Vec<_>>().join(" → ");
            let message =
                if on_it { format!("reference cycle: {path}") } else { format!("the correlation depends on a reference cycle: {path}") };
            refused[index] = Some(docs[index].0.error("rules:", RuleErrorKind::Invalid(message)));
        }
    }

    // Resolution of fields, inertness and versions, inner correlations first.
    let mut planned: Vec<Option<Planned>> = (0..docs.len()).map(|_| None).collect();
    for &index in &order {
        if refused[index].is_some() {
            continue;
        }
        let (sourced, doc) = docs[index];
        if let Some(bad) = targets[index].iter().find_map(|t| match t {
            Target::Correlation(inner) if refused[*inner].is_some() => Some(*inner),
            _ => None,
        }) {
            refused[index] =
                Some(sourced.error("rules:", RuleErrorKind::Invalid(format!("the correlation names {}, which was refused", ids[bad]))));
            continue;
        }
        let outputs = |target: Target| -> Option<&[String]> {
            match target {
                Target::Correlation(inner) => planned[inner].as_ref().and_then(|p| p.inputs.first()).map(|i| i.group_fields.as_slice()),
                Target::Base(_) => None,
            }
        };
        let inputs = match plan_inputs(sourced, doc, &targets[index], &aliases[index], mapping, &label, &outputs) {
            Ok(inputs) => inputs,
            Err(error) => {
                refused[index] = Some(error);
                continue;
            }
        };
        let id = ids[index].clone();
        let own_disabled = disabled.contains(&id);
        let inert = targets[index].iter().find_map(|target| match *target {
            Target::Base(b) if base[b].disabled => Some(format!("it names the disabled rule {}", base[b].id)),
            Target::Correlation(c) => match planned[c].as_ref() {
                Some(inner) if inner.info.disabled => Some(format!("it names the disabled correlation {}", ids[c])),
                Some(inner) if inner.info.inert.is_some() => Some(format!("it names the inert correlation {}", ids[c])),
                _ => None,
            },
            _ => None,
        });
        let version = format!("{:012x}", xxh3_64(sourced.text.as_bytes()) >> 16);
        let mut fingerprint =
            format!("{version}|{:?}|{:?}|{:?}|{:?}", doc.body.kind, doc.body.timespan_ms, doc.body.condition, doc.body.percentile);
        for (input, target) in inputs.iter().zip(&targets[index]) {
            let upstream = match *target {
                Target::Base(b) => base[b].version.to_owned(),
                Target::Correlation(c) => planned[c].as_ref().map(|p| p.state_version.to_string()).unwrap_or_default(),
            };
            fingerprint.push_str(&format!("|{input:?}|{upstream}"));
        }
        let routed = targets[index].iter().any(|target| match *target {
            Target::Base(b) => base[b].routed,
            Target::Correlation(c) => planned[c].as_ref().is_some_and(|p| p.info.routed),
        });
        if let Some(reason) = &inert
            && !own_disabled
        {
            warnings.push(sourced.error("correlation", RuleErrorKind::Inert(format!("the correlation cannot fire: {reason}"))));
        }
        let spec = CorrelationSpec {
            kind: doc.body.kind,
            rules: targets[index].iter().map(|t| label(*t)).collect(),
            group_by: doc.body.group_by.clone(),
            group_fields: inputs.iter().map(|i| i.group_fields.clone()).collect(),
            timespan: doc.body.timespan.clone(),
            timespan_ms: doc.body.timespan_ms,
            condition: doc.body.condition,
            field: doc.body.field.as_deref().map(|f| mapping.field(f).to_owned()),
            percentile: match doc.body.kind {
                CorrelationType::ValueMedian => Some(50.0),
                _ => doc.body.percentile,
            },
            generate: doc.body.generate,
        };
        let info = RuleInfo {
            id,
            version,
            title: doc.title.clone(),
            description: doc.description.clone(),
            level: doc.level,
            tags: doc.tags.clone(),
            status: doc.status.clone(),
            file: sourced.file.clone(),
            logsource: LogSource::default(),
            routed,
            disabled: own_disabled,
            filters: Vec::new(),
            name: doc.name.clone(),
            correlation: Some(Arc::new(spec)),
            generates: true,
            inert,
        };
        let active = !info.disabled && info.inert.is_none();
        planned[index] = Some(Planned { info, inputs, state_version: xxh3_64(fingerprint.as_bytes()), active });
    }
    errors.extend(refused.into_iter().flatten());

    // `generate`: a rule named only by correlations that do not generate raises no alert itself.
    let mut generates: HashMap<String, bool> = HashMap::new();
    for (index, named) in targets.iter().enumerate() {
        if planned[index].is_some() {
            for target in named {
                *generates.entry(label(*target)).or_insert(false) |= docs[index].1.body.generate;
            }
        }
    }
    let mut result = Vec::with_capacity(order.len());
    for index in order {
        if let Some(mut plan) = planned[index].take() {
            plan.info.generates = generates.get(&plan.info.id).copied().unwrap_or(true);
            result.push(plan);
        }
    }
    (result, generates)
}

type Resolved = (Vec<Target>, HashMap<String, Vec<(Target, String)>>);

fn resolve_references(
    sourced: &SourcedDocument,
    doc: &CorrelationDocument,
    resolve: &dyn Fn(&str) -> Result<Target, String>,
) -> Result<Resolved, RuleError> {
    let mut targets = Vec::with_capacity(doc.body.rules.len());
    for reference in &doc.body.rules {
        targets
            .push(resolve(reference).map_err(|message| sourced.error(&format!("{reference}\nrules:"), RuleErrorKind::Invalid(message)))?);
    }
    let mut aliases = HashMap::new();
    for (alias, per_rule) in &doc.body.aliases {
        let mut fields = Vec::with_capacity(per_rule.len());
        for (reference, field) in per_rule {
            let target = resolve(reference).ok().filter(|target| targets.contains(target)).ok_or_else(|| {
                sourced.error(
                    &format!("{reference}:\n{alias}:\naliases:"),
                    RuleErrorKind::Invalid(format!("alias `{alias}` names `{reference}`, which is not one of the correlation's `rules`")),
                )
            })?;
            fields.push((target, field.clone()));
        }
        aliases.insert(alias.clone(), fields);
    }
    Ok((targets, aliases))
}

fn first_repeat(targets: &[Target]) -> Option<Target> {
    targets.iter().enumerate().find(|(index, target)| targets[..*index].contains(target)).map(|(_, target)| *target)
}

/// Kahn's algorithm: each correlation after those it names. Refused correlations stay in the
/// order, so that the correlations naming them are refused in turn.
fn dependency_order(targets: &[Vec<Target>]) -> Vec<usize> {
    let count = targets.len();
    let mut waiting = vec![0usize; count];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, named) in targets.iter().enumerate() {
        for target in named {
            if let Target::Correlation(inner) = *target {
                waiting[index] += 1;
                readers[inner].push(index);
            }
        }
    }
    let mut ready: Vec<usize> = (0..count).filter(|i| waiting[*i] == 0).rev().collect();
    let mut order = Vec::with_capacity(count);
    while let Some(index) = ready.pop() {
        order.push(index);
        for &reader in &readers[index] {
            waiting[reader] -= 1;
            if waiting[reader] == 0 {
                ready.push(reader);
            }
        }
    }
    order
}

/// The path from `start` into a cycle among the correlations not in `ordered`, ending where the
/// cycle closes, and whether `start` is on the cycle.
fn find_cycle(start: usize, targets: &[Vec<Target>], ordered: &HashSet<usize>) -> (Vec<usize>, bool) {
    let mut path = vec![start];
    let mut current = start;
    loop {
        // Every correlation left out of the order names one that is left out too.
        let next = targets[current].iter().find_map(|t| match *t {
            Target::Correlation(inner) if !ordered.contains(&inner) => Some(inner),
            _ => None,
        });
        let Some(next) = next else { return (path, false) };
        let closes_at = path.iter().position(|p| *p == next);
        path.push(next);
        if let Some(position) = closes_at {
            return (path, position == 0);
        }
        current = next;
    }
}

/// The event fields each rule of the correlation is read by: group-by names through aliases
/// and the field mapping. A correlation read by another must carry the fields it groups by.
fn plan_inputs<'o>(
    sourced: &SourcedDocument,
    doc: &CorrelationDocument,
    targets: &[Target],
    aliases: &HashMap<String, Vec<(Target, String)>>,
    mapping: &FieldMapping,
    label: &dyn Fn(Target) -> String,
    outputs: &dyn Fn(Target) -> Option<&'o [String]>,
) -> Result<Vec<Input>, RuleError> {
    let field_of = |name: &str, target: Target| -> String {
        let written = aliases.get(name).and_then(|per_rule| per_rule.iter().find(|(t, _)| *t == target)).map_or(name, |(_, f)| f.as_str());
        mapping.field(written).to_owned()
    };
    let mut inputs = Vec::with_capacity(targets.len());
    for &target in targets {
        let group_fields: Vec<String> = doc.body.group_by.iter().map(|name| field_of(name, target)).collect();
        let value_field = doc.body.field.as_deref().map(|name| field_of(name, target));
        if let Some(carried) = outputs(target) {
            let missing = group_fields.iter().chain(value_field.iter()).find(|field| !carried.contains(field));
            if let Some(missing) = missing {
                let needle = if value_field.as_ref() == Some(missing) { "field:" } else { "group-by:" };
                return Err(sourced.error(
                    needle,
                    RuleErrorKind::Invalid(format!(
                        "the correlation reads `{missing}` from the hits of {}, which carry only its group-by fields ({})",
                        label(target),
                        carried.join(", ")
                    )),
                ));
            }
        }
        inputs.push(Input { rule: label(target), group_fields, value_field });
    }
    Ok(inputs)
}
