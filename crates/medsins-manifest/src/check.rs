//! Meaning checks over a whole catalogue, every problem reported at once.

use crate::catalogue::LoadedManifest;
use crate::error::Diagnostics;
use crate::model::{ExpectedYield, FORMATS, SplitPolicy, Step, Task};
use crate::pattern::PathPattern;
use medsins_core::{Access, Category, Split, TextSource};
use std::collections::HashMap;
use toml::Spanned;

/// Checks each manifest and the catalogue as a whole (task numbers and ids unique).
pub fn check_catalogue(manifests: &[LoadedManifest]) -> Diagnostics {
    let mut d = check_unique(manifests);
    for lm in manifests {
        check_manifest(lm, &mut d);
    }
    d.sort();
    d
}

/// What stops a build of the corpora and tasks `only` names (everything when empty): every
/// problem of the manifests that hold them (a manifest that does not parse counts when its file
/// name is a named corpus id, or when a named id is found in no manifest that parses), and the
/// catalogue-wide uniqueness of ids and numbers. Unfinished manifests of other corpora do not
/// block the build.
pub fn check_selection(
    manifests: &[LoadedManifest],
    parse_problems: &Diagnostics,
    only: &[String],
) -> Diagnostics {
    if only.is_empty() {
        let mut d = check_catalogue(manifests);
        d.0.extend(parse_problems.0.iter().cloned());
        d.sort();
        return d;
    }
    let holds = |lm: &LoadedManifest, o: &String| {
        lm.manifest.id() == o || lm.manifest.tasks.iter().any(|t| t.id.get_ref() == o)
    };
    let unheld = only
        .iter()
        .any(|o| !manifests.iter().any(|lm| holds(lm, o)));
    let mut d = check_unique(manifests);
    for lm in manifests
        .iter()
        .filter(|lm| only.iter().any(|o| holds(lm, o)))
    {
        check_manifest(lm, &mut d);
    }
    d.0.extend(
        parse_problems
            .0
            .iter()
            .filter(|p| {
                let stem = p.file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                unheld || only.iter().any(|o| o == stem)
            })
            .cloned(),
    );
    d.sort();
    d
}

/// Corpus ids, task ids and task numbers are unique across the catalogue.
fn check_unique(manifests: &[LoadedManifest]) -> Diagnostics {
    let mut d = Diagnostics::default();
    let mut numbers: HashMap<u32, (String, String)> = HashMap::new();
    let mut task_ids: HashMap<String, String> = HashMap::new();
    let mut corpus_ids: HashMap<String, String> = HashMap::new();
    for lm in manifests {
        let m = &lm.manifest;
        if let Some(prev) = corpus_ids.insert(m.id().to_string(), lm.display_path()) {
            d.0.push(lm.diag(
                m.corpus.id.span().start,
                format!("corpus id `{}` is already declared in {prev}", m.id()),
            ));
        }
        for t in &m.tasks {
            let n = *t.number.get_ref();
            if let Some((file, tid)) = numbers.get(&n) {
                d.0.push(lm.diag(
                    t.number.span().start,
                    format!("task number {n} is already taken by `{tid}` in {file}; pick the upstream number of this task"),
                ));
            } else {
                numbers.insert(n, (lm.display_path(), t.id.get_ref().clone()));
            }
            if let Some(prev) = task_ids.insert(t.id.get_ref().clone(), lm.display_path()) {
                d.0.push(lm.diag(
                    t.id.span().start,
                    format!("task id `{}` is already declared in {prev}", t.id.get_ref()),
                ));
            }
        }
    }
    d
}

fn one_of<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest entry of a vocabulary, for "did you mean" hints.
fn closest<'a>(word: &str, all: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    all.map(|c| (strsim(&w, &c.to_lowercase()), c))
        .filter(|(s, _)| *s <= 4)
        .min_by_key(|(s, _)| *s)
        .map(|(_, c)| c)
}

/// Levenshtein distance (small strings only).
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn vocab_error(kind: &str, value: &str, all: &[&str]) -> String {
    let hint = closest(value, all.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "unknown {kind} `{value}`{hint}; expected one of: {}",
        one_of(all)
    )
}

/// Why `code` is not an ISO 639 language code, naming the code probably meant. Accepted: an
/// ISO 639-1 code (`en`), or an ISO 639-3 code for a language ISO 639-1 does not cover (`yue`).
fn language_problem(code: &str) -> Option<String> {
    use isolang::Language;
    if Language::from_639_1(code).is_some()
        || Language::from_639_3(code).is_some_and(|l| l.to_639_1().is_none())
    {
        return None;
    }
    // what a manifest author may have written instead: `EN`, `en-US`, `zh_CN`, `eng`, `German`
    let lower = code.trim().to_ascii_lowercase();
    let base = lower.split(['-', '_']).next().unwrap_or_default();
    let meant = Language::from_639_1(base)
        .or_else(|| Language::from_639_3(base))
        .or_else(|| Language::from_name_lowercase(&lower));
    let hint = meant
        .map(|l| {
            let code = l.to_639_1().unwrap_or_else(|| l.to_639_3());
            format!(" (did you mean `{code}`, {}?)", l.to_name())
        })
        .unwrap_or_default();
    Some(format!(
        "language `{code}` is not an ISO 639-1 code{hint}; use a two-letter code such as `en`, `zh`, `ja` (or ISO 639-3 for a language without one)"
    ))
}

/// A path that stays inside its folder: relative, `/`-separated, no `..`, no empty parts.
pub fn is_contained_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.contains(':')
        && p.split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
}

fn check_manifest(lm: &LoadedManifest, d: &mut Diagnostics) {
    let todo_lines = check_todos(lm, d);
    // a value still marked TODO is reported once, as a TODO, not also as a wrong value
    let before = d.0.len();
    check_values(lm, d);
    let on_todo_line = |diag: &crate::error::Diagnostic| {
        todo_lines
            .iter()
            .any(|start| lm.diag(*start, "").line == diag.line)
    };
    let mut i = before;
    while i < d.0.len() {
        if on_todo_line(&d.0[i]) {
            d.0.remove(i);
        } else {
            i += 1;
        }
    }
}

fn check_values(lm: &LoadedManifest, d: &mut Diagnostics) {
    check_corpus(lm, d);
    check_files(lm, &lm.manifest.files, None, d);
    check_variants(lm, d);
    for t in &lm.manifest.tasks {
        check_task(lm, t, d);
    }
    let m = &lm.manifest;
    // the tasks with upstream overrides, as `--profile upstream` builds them
    let mut upstream = m.for_profile(medsins_core::Profile::Upstream);
    upstream.tasks.retain(|t| t.upstream.is_some());
    for vid in m.variant_ids() {
        let variant = (!m.variants.is_empty()).then_some(vid);
        if let Some(view) = m.for_variant(vid) {
            check_task_files(lm, &view, variant, d);
        }
        if let Some(view) = upstream.for_variant(vid) {
            check_task_files(lm, &view, variant, d);
        }
    }
}

/// The `[corpus]` table: id (its form, and the manifest's file name), access class, error budget.
fn check_corpus(lm: &LoadedManifest, d: &mut Diagnostics) {
    let m = &lm.manifest;
    let at = |s: &std::ops::Range<usize>, msg: String| lm.diag(s.start, msg);
    let id = m.corpus.id.get_ref();
    if !medsins_core::is_corpus_id(id) {
        d.0.push(at(
            &m.corpus.id.span(),
            format!("corpus id `{id}` must be lower-case letters, digits and `-`"),
        ));
    }
    if let Some(stem) = lm.path.file_stem().and_then(|s| s.to_str())
        && stem != id
    {
        d.0.push(at(&m.corpus.id.span(), format!("corpus id `{id}` must equal the manifest file name `{stem}.toml`; rename one of them")));
    }
    let access_names: Vec<&str> = Access::ALL.iter().map(|a| a.as_str()).collect();
    if m.access().is_none() {
        d.0.push(at(
            &m.corpus.access.span(),
            vocab_error("access class", m.corpus.access.get_ref(), &access_names),
        ));
    }
    if let Some(b) = m.corpus.error_budget
        && !(0.0..=1.0).contains(&b)
    {
        d.0.push(lm.diag(
            0,
            format!("error_budget {b} must be a fraction between 0 and 1"),
        ));
    }
}

/// The `[[variants]]`: ids, files, `obtain`, steps and task overrides of each.
fn check_variants(lm: &LoadedManifest, d: &mut Diagnostics) {
    let m = &lm.manifest;
    let at = |s: &std::ops::Range<usize>, msg: String| lm.diag(s.start, msg);
    if let (Some(v), false) = (m.variants.first(), m.files.is_empty()) {
        d.0.push(at(
            &v.id.span(),
            "declare the raw files either at the top level (`[[files]]`, one distribution) or in every `[[variants]]`, not both".to_string(),
        ));
    }
    let mut variant_ids: HashMap<&str, ()> = HashMap::new();
    for v in &m.variants {
        let vid = v.id.get_ref();
        if !medsins_core::is_corpus_id(vid) {
            d.0.push(at(
                &v.id.span(),
                format!("variant id `{vid}` must be lower-case letters, digits and `-`"),
            ));
        }
        if variant_ids.insert(vid, ()).is_some() {
            d.0.push(at(
                &v.id.span(),
                format!("variant id `{vid}` is declared twice in this manifest"),
            ));
        }
        if v.files.is_empty() {
            d.0.push(at(
                &v.id.span(),
                format!("variant `{vid}` declares no raw file; add its `[[variants.files]]`"),
            ));
        }
        if v.obtain.trim().is_empty() {
            d.0.push(at(
                &v.id.span(),
                format!("variant `{vid}` needs `obtain`: how a user gets these files and where to put them"),
            ));
        }
        check_files(lm, &v.files, Some(vid), d);
        let override_steps = v.tasks.iter().flat_map(|o| o.steps.iter().flatten());
        for step in v.steps.iter().chain(override_steps) {
            check_step(lm, step, d);
        }
        let mut overridden: HashMap<&str, ()> = HashMap::new();
        for o in &v.tasks {
            let oid = o.id.get_ref();
            if !m.tasks.iter().any(|t| t.id.get_ref() == oid) {
                d.0.push(at(
                    &o.id.span(),
                    format!("variant `{vid}` overrides task `{oid}`, which this manifest does not declare"),
                ));
            }
            if overridden.insert(oid, ()).is_some() {
                d.0.push(at(
                    &o.id.span(),
                    format!("variant `{vid}` overrides task `{oid}` twice"),
                ));
            }
        }
    }
}

/// One `[[tasks]]` entry: id, vocabularies, languages, definition, evidence, steps, near-dedup
/// parameters, expected checks and split policy.
fn check_task(lm: &LoadedManifest, t: &Task, d: &mut Diagnostics) {
    let at = |s: &std::ops::Range<usize>, msg: String| lm.diag(s.start, msg);
    let cat_names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let src_names: Vec<&str> = TextSource::ALL.iter().map(|c| c.as_str()).collect();
    let n = *t.number.get_ref();
    let tid = t.id.get_ref();
    let prefix = format!("task{n}_");
    if medsins_core::task_id_number(tid) != Some(n) {
        d.0.push(at(&t.id.span(), format!("task id `{tid}` must be `{prefix}` followed by letters, digits and `_` (the upstream file stem for task number {n}); it names the task's folder in the output")));
    }
    if t.category().is_none() {
        d.0.push(at(
            &t.category.span(),
            vocab_error("category", t.category.get_ref(), &cat_names),
        ));
    }
    if t.text_source().is_none() {
        d.0.push(at(
            &t.text_source.span(),
            vocab_error("text source", t.text_source.get_ref(), &src_names),
        ));
    }
    for l in t.input_languages.iter().chain(&t.output_languages) {
        if let Some(problem) = language_problem(l.get_ref()) {
            d.0.push(at(&l.span(), problem));
        }
    }
    if t.input_languages.is_empty() || t.output_languages.is_empty() {
        d.0.push(at(
            &t.id.span(),
            format!("task `{tid}` must declare input_languages and output_languages"),
        ));
    }
    if t.definition.trim().is_empty() {
        d.0.push(at(
            &t.id.span(),
            format!("task `{tid}` needs a non-empty definition (its original instruction)"),
        ));
    }
    if !t.confirmed && t.evidence.as_deref().is_none_or(|e| e.trim().is_empty()) {
        d.0.push(at(
            &t.id.span(),
            format!("task `{tid}` is marked confirmed = false and must give its evidence"),
        ));
    }
    for step in &t.steps {
        check_step(lm, step, d);
    }
    check_near_dedup(lm, t, d);
    check_expected_checks(lm, t, d);
    check_split_policy(lm, tid, &t.split, t.group_key.is_some(), d);
    for y in &t.expected_yield {
        check_expected_yield(lm, t, y, d);
    }
    check_upstream(lm, t, d);
}

/// A task's `[tasks.upstream]` overrides: their steps and split.
fn check_upstream(lm: &LoadedManifest, t: &Task, d: &mut Diagnostics) {
    let Some(u) = &t.upstream else {
        return;
    };
    for step in u.steps.iter().flatten() {
        check_step(lm, step, d);
    }
    if let Some(split) = &u.split {
        let keyed = u.group_key.is_some() || t.group_key.is_some();
        check_split_policy(lm, t.id.get_ref(), split, keyed, d);
    }
}

/// An `expected_yield` entry: a reason, a minimum share in [0, 1], a file the task reads in
/// some distribution.
fn check_expected_yield(lm: &LoadedManifest, t: &Task, y: &ExpectedYield, d: &mut Diagnostics) {
    let tid = t.id.get_ref();
    let at = |msg: String| lm.diag(t.id.span().start, msg);
    if y.reason.trim().is_empty() {
        d.0.push(at(format!(
            "task `{tid}`: expected_yield needs a reason (why the file yields few samples)"
        )));
    }
    if y.min.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        d.0.push(at(format!(
            "task `{tid}`: expected_yield min must be a share between 0 and 1"
        )));
    }
    let m = &lm.manifest;
    if let Some(f) = &y.file {
        let declared = m
            .files
            .iter()
            .chain(m.variants.iter().flat_map(|v| &v.files));
        if !declared.clone().any(|x| x.id.get_ref() == f) {
            let ids: Vec<&str> = declared.map(|x| x.id.get_ref().as_str()).collect();
            d.0.push(at(format!(
                "task `{tid}`: expected_yield names file `{f}`, which this manifest does not declare ({})",
                ids.join(", ")
            )));
        }
    }
}

/// A task's `near_dedup` parameters: a usable LSH shape and a threshold in (0, 1].
fn check_near_dedup(lm: &LoadedManifest, t: &Task, d: &mut Diagnostics) {
    let Some(nd) = &t.near_dedup else {
        return;
    };
    let tid = t.id.get_ref();
    let start = t.id.span().start;
    if nd.shingle == 0 || nd.bands == 0 || nd.rows == 0 || nd.bands * nd.rows > nd.permutations {
        d.0.push(lm.diag(start, format!(
            "task `{tid}`: near_dedup needs shingle, bands and rows of at least 1 and bands × rows ({} × {}) <= permutations ({})",
            nd.bands, nd.rows, nd.permutations
        )));
    }
    if !(nd.threshold > 0.0 && nd.threshold <= 1.0) {
        d.0.push(lm.diag(
            start,
            format!(
                "task `{tid}`: near_dedup threshold {} must be in (0, 1]",
                nd.threshold
            ),
        ));
    }
}

/// A task's `expected_checks`: known check names, each with a reason.
fn check_expected_checks(lm: &LoadedManifest, t: &Task, d: &mut Diagnostics) {
    let tid = t.id.get_ref();
    let start = t.id.span().start;
    for e in &t.expected_checks {
        if e.check == crate::model::LOW_YIELD_CHECK {
            d.0.push(lm.diag(
                start,
                format!("task `{tid}`: declare an expected low yield with `expected_yield = [{{ reason = \"…\" }}]` (per file, with an optional minimum), not in expected_checks"),
            ));
        } else if !crate::model::QUALITY_CHECKS.contains(&e.check.as_str()) {
            d.0.push(lm.diag(
                start,
                format!(
                    "task `{tid}`: {}",
                    vocab_error("expected check", &e.check, crate::model::QUALITY_CHECKS)
                ),
            ));
        }
        if e.reason.trim().is_empty() {
            d.0.push(lm.diag(
                start,
                format!("task `{tid}`: expected check `{}` needs a reason", e.check),
            ));
        }
    }
}

/// A task's split policy (its own, or its upstream one): known split names (`drop` for the
/// rest of a head split), fractions in range, a group key for hash splits (`keyed`).
fn check_split_policy(
    lm: &LoadedManifest,
    tid: &str,
    split: &Spanned<SplitPolicy>,
    keyed: bool,
    d: &mut Diagnostics,
) {
    let start = split.span().start;
    let split_names: Vec<&str> = Split::ALL.iter().map(|s| s.as_str()).collect();
    match split.get_ref() {
        SplitPolicy::Official => {}
        SplitPolicy::Fixed { split } => {
            if Split::parse(split).is_none() {
                d.0.push(lm.diag(start, vocab_error("split", split, &split_names)));
            }
        }
        SplitPolicy::Head { train, rest } => {
            if !(0.0..=1.0).contains(train) {
                d.0.push(lm.diag(
                    start,
                    "head split fraction `train` must be between 0 and 1".to_string(),
                ));
            }
            if Split::parse(rest).is_none() && rest != crate::model::HEAD_REST_DROP {
                let mut names = split_names.clone();
                names.push(crate::model::HEAD_REST_DROP);
                d.0.push(lm.diag(start, vocab_error("split", rest, &names)));
            }
        }
        SplitPolicy::Hash {
            train,
            validation,
            test,
        } => {
            if (train + validation + test - 1.0).abs() > 1e-9
                || [train, validation, test].iter().any(|x| **x < 0.0)
            {
                d.0.push(lm.diag(
                    start,
                    "hash split fractions must be non-negative and sum to 1".to_string(),
                ));
            }
            if !keyed {
                d.0.push(lm.diag(
                    start,
                    format!("task `{tid}` uses a hash split and must declare a group_key template"),
                ));
            }
        }
    }
}

/// The per-file checks of one list of raw files (top level, or one variant's).
fn check_files(
    lm: &LoadedManifest,
    files: &[crate::model::RawFile],
    variant: Option<&str>,
    d: &mut Diagnostics,
) {
    let at = |s: &std::ops::Range<usize>, msg: String| lm.diag(s.start, msg);
    let id = lm.manifest.id();
    let split_names: Vec<&str> = Split::ALL.iter().map(|s| s.as_str()).collect();
    let mut file_ids: HashMap<&str, ()> = HashMap::new();
    for f in files {
        if file_ids.insert(f.id.get_ref(), ()).is_some() {
            let place = variant
                .map(|v| format!("variant `{v}`"))
                .unwrap_or_else(|| "this manifest".into());
            d.0.push(at(
                &f.id.span(),
                format!("file id `{}` is declared twice in {place}", f.id.get_ref()),
            ));
        }
        if !is_contained_path(f.path.get_ref()) {
            d.0.push(at(
                &f.path.span(),
                format!(
                    "path `{}` leaves the corpus folder; write it relative to `<raw-root>/{id}/`, `/`-separated, without `..`",
                    f.path.get_ref()
                ),
            ));
        } else if let Err(e) = PathPattern::parse(f.path.get_ref()) {
            d.0.push(at(&f.path.span(), format!("path pattern: {e}")));
        }
        if let Some(o) = &f.order_by {
            if !f.many {
                d.0.push(at(
                    &f.path.span(),
                    format!(
                        "file `{}`: `order_by` orders the files of a set; add `many = true` or remove it",
                        f.id.get_ref()
                    ),
                ));
            }
            if let Err(e) = regex::Regex::new(o) {
                d.0.push(at(
                    &f.path.span(),
                    format!(
                        "file `{}`: `order_by` is not a regular expression: {e}",
                        f.id.get_ref()
                    ),
                ));
            }
        }
        if !FORMATS.contains(&f.format.get_ref().as_str()) {
            d.0.push(at(
                &f.format.span(),
                vocab_error("format", f.format.get_ref(), FORMATS),
            ));
        }
        if let Some(problem) = options_problem(f) {
            d.0.push(at(
                &f.format.span(),
                format!("file `{}`: {problem}", f.id.get_ref()),
            ));
        }
        if let Some(s) = &f.split
            && Split::parse(s.get_ref()).is_none()
        {
            d.0.push(at(
                &s.span(),
                vocab_error("split", s.get_ref(), &split_names),
            ));
        }
        if let Some(r) = &f.root
            && !medsins_core::is_corpus_id(r.get_ref())
        {
            d.0.push(at(
                &r.span(),
                format!(
                    "root `{}` must name one folder under the raw root (lower-case, no `/`)",
                    r.get_ref()
                ),
            ));
        }
        if let Some(h) = &f.sha256
            && (h.len() != 64
                || !h
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
        {
            d.0.push(at(
                &f.id.span(),
                format!(
                    "sha256 of file `{}` must be 64 lower-case hex digits",
                    f.id.get_ref()
                ),
            ));
        }
    }
}

/// What is wrong with a file's layout options (plain-split lines, zip members), if anything.
fn options_problem(f: &crate::model::RawFile) -> Option<String> {
    let o = &f.options;
    let table = matches!(f.format.get_ref().as_str(), "csv" | "tsv");
    if (o.quoting.is_some() || o.max_fields.is_some()) && !table {
        return Some("`quoting` and `max_fields` are options of the csv and tsv formats".into());
    }
    if let Some(n) = o.max_fields
        && (o.quoting != Some(false) || n == 0)
    {
        return Some(
            "`max_fields` (the last field takes the rest of the line) needs `quoting = false` and at least 1 field".into(),
        );
    }
    let zip = o.compression.as_deref() == Some("zip");
    if o.member.is_some() && !zip {
        return Some(
            "`member` names a member of a zip archive: add `compression = \"zip\"`".into(),
        );
    }
    if zip && o.member.is_none() {
        return Some("a zip archive needs `member`, the path of the file to read inside it".into());
    }
    o.member
        .as_deref()
        .and_then(|m| PathPattern::parse(m).err())
        .map(|e| format!("zip member pattern: {e}"))
}

/// Checks of one step that do not depend on the files.
fn check_step(lm: &LoadedManifest, s: &Spanned<Step>, d: &mut Diagnostics) {
    if let Step::Group { size, by, .. } = s.get_ref()
        && size.is_some() == by.is_some()
    {
        d.0.push(lm.diag(
            s.span().start,
            "group step needs exactly one of `size` and `by`".to_string(),
        ));
    }
}

/// The checks that need a task's files, on one distribution's view of the manifest: every file
/// a task (or a step) names is declared there, the task reads at least one, and an official
/// split has a split on every file.
fn check_task_files(
    lm: &LoadedManifest,
    view: &crate::model::Manifest,
    variant: Option<&str>,
    d: &mut Diagnostics,
) {
    let at = |s: &std::ops::Range<usize>, msg: String| lm.diag(s.start, msg);
    let undeclared = |what: String, name: &str| match variant {
        None => format!("{what} `{name}`, which is not declared in [[files]]"),
        Some(v) => format!(
            "{what} `{name}`, which variant `{v}` does not declare in its [[variants.files]]"
        ),
    };
    for t in &view.tasks {
        let tid = t.id.get_ref();
        let mut undeclared_files = false;
        if let Some(files) = &t.files {
            for f in files {
                if view.file(f.get_ref()).is_none() {
                    undeclared_files = true;
                    d.0.push(at(
                        &f.span(),
                        undeclared(format!("task `{tid}` reads file"), f.get_ref()),
                    ));
                }
            }
        }
        for s in &t.steps {
            if let Step::Join { file, .. }
            | Step::Lookup { file, .. }
            | Step::LookupRecords { file, .. }
            | Step::CodeDialogue { file, .. } = s.get_ref()
                && view.file(file).is_none()
            {
                d.0.push(at(
                    &s.span(),
                    undeclared("step refers to file".into(), file),
                ));
            }
        }
        let files = view.task_files(t);
        // a task whose every file is undeclared has already been told so
        if files.is_empty() && !undeclared_files {
            let whence = variant
                .map(|v| format!(" from variant `{v}`"))
                .unwrap_or_default();
            d.0.push(at(
                &t.id.span(),
                format!("task `{tid}` reads no raw file{whence}"),
            ));
        }
        if *t.split.get_ref() == SplitPolicy::Official {
            for f in &files {
                if f.split.is_none() {
                    d.0.push(at(
                        &t.split.span(),
                        format!(
                            "split policy `official` needs every file the task reads to declare its split; file `{}` has none",
                            f.id.get_ref()
                        ),
                    ));
                }
            }
        }
    }
}

/// Every `TODO` marker left in the manifest (as `medsins new-corpus` writes them) is reported
/// where it stands, so `validate` lists exactly what is left to fill in.
fn check_todos(lm: &LoadedManifest, d: &mut Diagnostics) -> Vec<usize> {
    let mut todo_lines = Vec::new();
    let mut offset = 0;
    for line in lm.text.split_inclusive('\n') {
        if let Some(i) = line.find("TODO") {
            let what = line[i..]
                .trim_end()
                .trim_end_matches(['"', ','])
                .to_string();
            d.0.push(lm.diag(
                offset + i,
                format!("{what} (left by new-corpus: replace it)"),
            ));
            todo_lines.push(offset);
        }
        offset += line.len();
    }
    todo_lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSONL_FILE: &str = r#"id = "q"
path = "q.jsonl"
format = "jsonl""#;

    fn manifest_with_languages(input: &str, output: &str) -> LoadedManifest {
        tiny_manifest(JSONL_FILE, input, output)
    }

    /// A one-task manifest whose one `[[files]]` entry is `file` (its TOML keys).
    fn tiny_manifest(file: &str, input: &str, output: &str) -> LoadedManifest {
        let text = format!(
            r#"[corpus]
id = "tiny"
name = "Tiny"
homepage = "https://example.invalid"
version = "1"
license = "CC0-1.0"
access = "public"
citation = "none"
obtain = "test"

[[files]]
{file}

[[tasks]]
id = "task950_tiny"
number = 950
name = "tiny"
category = "Question Answering"
text_source = "Exam"
input_languages = [{input}]
output_languages = [{output}]
definition = "Answer."
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
"#
        );
        LoadedManifest::parse(std::path::Path::new("tiny.toml"), text).unwrap()
    }

    #[test]
    fn language_codes_are_checked_against_iso_639_with_the_code_meant() {
        let lm = manifest_with_languages(r#""zz", "EN", "eng""#, r#""de-DE", "German", "yue""#);
        let d = check_catalogue(std::slice::from_ref(&lm));
        let lines: Vec<String> = d.0.iter().map(|d| d.to_string()).collect();
        let tail = "; use a two-letter code such as `en`, `zh`, `ja` (or ISO 639-3 for a language without one)";
        assert_eq!(
            lines,
            vec![
                format!("tiny.toml:22:20: language `zz` is not an ISO 639-1 code{tail}"),
                format!(
                    "tiny.toml:22:26: language `EN` is not an ISO 639-1 code (did you mean `en`, English?){tail}"
                ),
                format!(
                    "tiny.toml:22:32: language `eng` is not an ISO 639-1 code (did you mean `en`, English?){tail}"
                ),
                format!(
                    "tiny.toml:23:21: language `de-DE` is not an ISO 639-1 code (did you mean `de`, German?){tail}"
                ),
                format!(
                    "tiny.toml:23:30: language `German` is not an ISO 639-1 code (did you mean `de`, German?){tail}"
                ),
            ]
        );
        let ok = manifest_with_languages(r#""en", "zh""#, r#""ca", "yue""#);
        assert!(check_catalogue(std::slice::from_ref(&ok)).is_empty());
    }

    #[test]
    fn layout_options_are_checked_against_the_format_and_each_other() {
        let problems = |file: &str| -> Vec<String> {
            let lm = tiny_manifest(file, r#""en""#, r#""en""#);
            let d = check_catalogue(std::slice::from_ref(&lm));
            d.0.iter().map(|d| d.to_string()).collect()
        };
        let at = "tiny.toml:14:10: file `q`";
        assert_eq!(
            problems(
                "id = \"q\"\npath = \"q.txt\"\nformat = \"csv\"\noptions = { max_fields = 3 }"
            ),
            [format!(
                "{at}: `max_fields` (the last field takes the rest of the line) needs `quoting = false` and at least 1 field"
            )]
        );
        assert_eq!(
            problems(
                "id = \"q\"\npath = \"q.txt\"\nformat = \"jsonl\"\noptions = { quoting = false }"
            ),
            [format!(
                "{at}: `quoting` and `max_fields` are options of the csv and tsv formats"
            )]
        );
        assert_eq!(
            problems(
                "id = \"q\"\npath = \"q.zip\"\nformat = \"jsonl\"\noptions = { member = \"q.jsonl\" }"
            ),
            [format!(
                "{at}: `member` names a member of a zip archive: add `compression = \"zip\"`"
            )]
        );
        assert_eq!(
            problems(
                "id = \"q\"\npath = \"q.zip\"\nformat = \"jsonl\"\noptions = { compression = \"zip\" }"
            ),
            [format!(
                "{at}: a zip archive needs `member`, the path of the file to read inside it"
            )]
        );
        assert_eq!(
            problems(
                "id = \"q\"\npath = \"q.zip\"\nformat = \"jsonl\"\noptions = { compression = \"zip\", member = \"**x/q.jsonl\" }"
            ),
            [format!(
                "{at}: zip member pattern: `**` must be a whole path segment (`a/**/b`), not part of `**x`"
            )]
        );
        assert!(
            problems("id = \"q\"\npath = \"q.txt\"\nformat = \"csv\"\noptions = { delimiter = \" \", quoting = false, max_fields = 3 }")
                .is_empty()
        );
    }
}
