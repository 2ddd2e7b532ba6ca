//! The meaning checks of one manifest (`check_catalogue`): each problem is reported at the
//! value it is about (`file:line:col`), with the exact text a contributor reads, and a
//! manifest without problems gives none. Also what parsing reports for a manifest that is not
//! one.

mod common;

use medsins_manifest::LoadedManifest;
use std::path::Path;

const CORPUS: &str = r#"[corpus]
id = "alpha"
name = "Alpha"
homepage = "https://example.invalid"
version = "1"
license = "CC0-1.0"
access = "public"
citation = "none"
obtain = "written by the test"
"#;

const FILES: &str = r#"
[[files]]
id = "train"
path = "train.jsonl"
format = "jsonl"
"#;

const TASK: &str = r#"
[[tasks]]
id = "task901_alpha_qa"
number = 901
name = "t"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
input = "{{ q }}"
output = "{{ a }}"
split = { policy = "fixed", split = "train" }
"#;

/// The file name every manifest of these tests has.
const FILE: &str = "alpha.toml";

/// Every problem of `text` (as `alpha.toml`), one line each.
fn problems(text: &str) -> Vec<String> {
    common::problems(FILE, text)
}

/// `alpha.toml:line:col` of the `nth` occurrence (from 0) of `needle` in `text`.
fn at(text: &str, needle: &str, nth: usize) -> String {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} not in the manifest"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{FILE}:{line}:{col}")
}

/// Diagnostics as a report lists them: by line, then column, then message.
fn in_report_order(mut lines: Vec<String>) -> Vec<String> {
    lines.sort_by_key(|line| {
        let mut parts = line.splitn(4, ':').skip(1);
        let line_no: usize = parts.next().unwrap().parse().unwrap();
        let col: usize = parts.next().unwrap().parse().unwrap();
        (line_no, col, line.clone())
    });
    lines
}

#[test]
fn a_complete_manifest_has_no_problem() {
    assert_eq!(
        problems(&format!("{CORPUS}{FILES}{TASK}")),
        Vec::<String>::new()
    );
}

#[test]
fn corpus_id_access_and_error_budget() {
    let text = format!("{CORPUS}{FILES}{TASK}")
        .replace("id = \"alpha\"", "id = \"Alpha\"")
        .replace(
            "access = \"public\"",
            "access = \"publc\"\nerror_budget = 1.5",
        );
    let id = at(&text, "\"Alpha\"", 0);
    assert_eq!(
        problems(&text),
        [
            "alpha.toml:1:1: error_budget 1.5 must be a fraction between 0 and 1".to_string(),
            format!("{id}: corpus id `Alpha` must be lower-case letters, digits and `-`"),
            format!(
                "{id}: corpus id `Alpha` must equal the manifest file name `alpha.toml`; rename one of them"
            ),
            format!(
                "{}: unknown access class `publc` (did you mean `public`?); expected one of: `public`, `registration`, `credentialed`",
                at(&text, "\"publc\"", 0)
            ),
        ]
    );
}

#[test]
fn task_id_vocabularies_languages_and_texts() {
    let task = TASK
        .replace("task901_alpha_qa", "task900_alpha_qa")
        .replace("\"Question Answering\"", "\"Question Answerin\"")
        .replace("\"Exam\"", "\"Exams\"")
        .replace(
            "input_languages = [\"en\"]",
            "input_languages = [\"EN\", \"eng\"]",
        )
        .replace("output_languages = [\"en\"]", "output_languages = []")
        .replace(
            "definition = \"Answer.\"",
            "definition = \" \"\nconfirmed = false",
        );
    let text = format!("{CORPUS}{FILES}{task}");
    let id = at(&text, "\"task900_alpha_qa\"", 0);
    let language = |code: &str| {
        format!(
            "{}: language `{code}` is not an ISO 639-1 code (did you mean `en`, English?); use a two-letter code such as `en`, `zh`, `ja` (or ISO 639-3 for a language without one)",
            at(&text, &format!("\"{code}\""), 0)
        )
    };
    let expected = vec![
        format!(
            "{id}: task id `task900_alpha_qa` must be `task901_` followed by letters, digits and `_` (the upstream file stem for task number 901); it names the task's folder in the output"
        ),
        format!("{id}: task `task900_alpha_qa` must declare input_languages and output_languages"),
        format!(
            "{id}: task `task900_alpha_qa` needs a non-empty definition (its original instruction)"
        ),
        format!(
            "{id}: task `task900_alpha_qa` is marked confirmed = false and must give its evidence"
        ),
        format!(
            "{}: unknown category `Question Answerin` (did you mean `Question Answering`?); expected one of: {}",
            at(&text, "\"Question Answerin\"", 0),
            medsins_core::Category::ALL
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "{}: unknown text source `Exams` (did you mean `Exam`?); expected one of: {}",
            at(&text, "\"Exams\"", 0),
            medsins_core::TextSource::ALL
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        language("EN"),
        language("eng"),
    ];
    assert_eq!(problems(&text), in_report_order(expected));
}

#[test]
fn near_dedup_expected_checks_and_split_policies() {
    let bad_dedup = "near_dedup = { bands = 20, rows = 8, threshold = 0 }\n\
                     expected_checks = [{ check = \"label_skw\", reason = \" \" }]\n";
    let hash = TASK.replace(
        "split = { policy = \"fixed\", split = \"train\" }",
        &format!("split = {{ policy = \"hash\", train = 0.8, validation = 0.1, test = 0.2 }}\n{bad_dedup}"),
    );
    let text = format!("{CORPUS}{FILES}{hash}");
    let id = at(&text, "\"task901_alpha_qa\"", 0);
    let split = at(&text, "{ policy = \"hash\"", 0);
    assert_eq!(
        problems(&text),
        [
            // one location: in the order of the messages
            format!("{id}: task `task901_alpha_qa`: expected check `label_skw` needs a reason"),
            format!(
                "{id}: task `task901_alpha_qa`: near_dedup needs shingle, bands and rows of at least 1 and bands × rows (20 × 8) <= permutations (128)"
            ),
            format!("{id}: task `task901_alpha_qa`: near_dedup threshold 0 must be in (0, 1]"),
            format!(
                "{id}: task `task901_alpha_qa`: unknown expected check `label_skw` (did you mean `label_skew`?); expected one of: {}",
                medsins_manifest::QUALITY_CHECKS
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("{split}: hash split fractions must be non-negative and sum to 1"),
            format!(
                "{split}: task `task901_alpha_qa` uses a hash split and must declare a group_key template"
            ),
        ]
    );

    let head = TASK.replace(
        "split = { policy = \"fixed\", split = \"train\" }",
        "split = { policy = \"head\", train = 1.5, rest = \"dev\" }",
    );
    let text = format!("{CORPUS}{FILES}{head}");
    let split = at(&text, "{ policy = \"head\"", 0);
    assert_eq!(
        problems(&text),
        [
            format!("{split}: head split fraction `train` must be between 0 and 1"),
            // a head split's rest may also be `drop` (the upstream profile's cut)
            format!(
                "{split}: unknown split `dev` (did you mean `test`?); expected one of: `train`, `validation`, `test`, `drop`"
            ),
        ]
    );
}

#[test]
fn variants_ids_files_obtain_and_task_overrides() {
    let variants = r#"
[[variants]]
id = "GitHub"
name = "g"
obtain = " "

[[variants.tasks]]
id = "task999_nope"

[[variants.tasks]]
id = "task901_alpha_qa"

[[variants.tasks]]
id = "task901_alpha_qa"

[[variants]]
id = "GitHub"
name = "g2"
obtain = "clone it"

[[variants.files]]
id = "train"
path = "train.jsonl"
format = "jsonl"
"#;
    let text = format!("{CORPUS}{FILES}{TASK}{variants}");
    let first = at(&text, "\"GitHub\"", 0);
    let second = at(&text, "\"GitHub\"", 1);
    let got = problems(&text);
    let expected = [
        // the first variant has no files, so the task reads none from it
        format!(
            "{}: task `task901_alpha_qa` reads no raw file from variant `GitHub`",
            at(&text, "\"task901_alpha_qa\"", 0)
        ),
        format!(
            "{first}: declare the raw files either at the top level (`[[files]]`, one distribution) or in every `[[variants]]`, not both"
        ),
        format!("{first}: variant id `GitHub` must be lower-case letters, digits and `-`"),
        format!("{first}: variant `GitHub` declares no raw file; add its `[[variants.files]]`"),
        format!(
            "{first}: variant `GitHub` needs `obtain`: how a user gets these files and where to put them"
        ),
        format!(
            "{}: variant `GitHub` overrides task `task999_nope`, which this manifest does not declare",
            at(&text, "\"task999_nope\"", 0)
        ),
        format!(
            "{}: variant `GitHub` overrides task `task901_alpha_qa` twice",
            at(&text, "\"task901_alpha_qa\"", 2)
        ),
        format!("{second}: variant id `GitHub` must be lower-case letters, digits and `-`"),
        format!("{second}: variant id `GitHub` is declared twice in this manifest"),
    ];
    assert_eq!(got, in_report_order(expected.to_vec()));
}

#[test]
fn a_manifest_that_does_not_parse_is_located() {
    let text = format!("{CORPUS}{FILES}{TASK}").replace("number = 901", "number = \"901\"");
    let e = LoadedManifest::parse(Path::new(FILE), text.clone()).unwrap_err();
    let found: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [format!(
            "{}: `tasks[0].number`: expected an integer, found a string",
            at(&text, "\"901\"", 0)
        )]
    );
}
