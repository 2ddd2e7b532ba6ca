//! Manifests with several distributions (`[[variants]]`): parsing, the view of one variant, and
//! the meaning checks, all reported at once with file:line:col.

mod common;

use medsins_manifest::{LoadedManifest, Step};

const HEAD: &str = r#"[corpus]
id = "demo"
name = "Demo"
homepage = "https://example.org"
version = "1"
license = "CC0-1.0"
access = "public"
citation = "Demo"
obtain = "Either distribution."
"#;

const TASK: &str = r#"
[[tasks]]
id = "task900_demo_qa"
number = 900
name = "Demo"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
input = "{{ question }}"
output = "{{ answer }}"
split = { policy = "official" }
"#;

/// The file name every manifest of these tests has.
const FILE: &str = "corpora-manifests/demo.toml";

fn load(text: &str) -> LoadedManifest {
    common::parse(FILE, text)
}

fn diagnostics(text: &str) -> Vec<String> {
    common::problems(FILE, text)
}

#[test]
fn a_variant_view_has_its_files_and_its_steps_before_the_tasks() {
    let text = format!(
        r#"{HEAD}
[[variants]]
id = "hub"
name = "Hub copy"
obtain = "Download it."

[[variants.files]]
id = "qa"
path = "data/train-*.parquet"
format = "parquet"
split = "train"

[[variants]]
id = "authors"
name = "Authors' release"
obtain = "Clone it."
steps = [{{ op = "set", into = "question", value = "q" }}]

[[variants.files]]
id = "qa"
path = "data/*/*.jsonl"
many = true
order_by = '(\d+)'
format = "jsonl"
split = "train"

[[variants.tasks]]
id = "task900_demo_qa"
output = "{{{{ answers[0] }}}}"
{TASK}"#
    );
    assert_eq!(diagnostics(&text), Vec::<String>::new());
    let lm = load(&text);
    assert_eq!(lm.manifest.variant_ids(), ["hub", "authors"]);
    let hub = lm.for_variant("hub").unwrap();
    assert_eq!(hub.variant_id(), "hub");
    assert_eq!(hub.manifest.files[0].path.get_ref(), "data/train-*.parquet");
    assert!(hub.manifest.tasks[0].steps.is_empty());
    assert_eq!(hub.manifest.tasks[0].output.get_ref(), "{{ answer }}");
    let authors = lm.for_variant("authors").unwrap();
    let t = &authors.manifest.tasks[0];
    assert!(authors.manifest.files[0].many);
    assert!(matches!(t.steps[0].get_ref(), Step::Set { into, .. } if into == "question"));
    assert_eq!(t.output.get_ref(), "{{ answers[0] }}");
    // diagnostics of a view still point into the manifest
    assert_eq!(authors.sha256, lm.sha256);
    assert!(lm.for_variant("default").is_none());
}

#[test]
fn a_manifest_without_variants_is_its_own_default_variant() {
    let text = format!(
        "{HEAD}\n[[files]]\nid = \"qa\"\npath = \"qa.jsonl\"\nformat = \"jsonl\"\nsplit = \"train\"\n{TASK}"
    );
    assert_eq!(diagnostics(&text), Vec::<String>::new());
    let lm = load(&text);
    assert_eq!(lm.manifest.variant_ids(), ["default"]);
    assert_eq!(lm.variant_id(), "default");
    let v = lm.for_variant("default").unwrap();
    assert_eq!(v.manifest.files.len(), 1);
}

#[test]
fn variant_mistakes_are_reported_at_once_where_they_are() {
    let text = format!(
        r#"{HEAD}
[[files]]
id = "qa"
path = "qa.jsonl"
format = "jsonl"
split = "train"

[[variants]]
id = "hub"
name = "Hub copy"
obtain = "Download it."

[[variants.files]]
id = "answers"
path = "data/[train.parquet"
format = "parquet"
order_by = '(\d+'

[[variants]]
id = "hub"
name = "Again"
obtain = " "

[[variants.files]]
id = "qa"
path = "qa.jsonl"
format = "jsonl"

[[variants.tasks]]
id = "task901_nothing"
{TASK}"#
    );
    let d = diagnostics(&text);
    let expected = [
        "corpora-manifests/demo.toml:18:6: declare the raw files either at the top level (`[[files]]`, one distribution) or in every `[[variants]]`, not both",
        "corpora-manifests/demo.toml:24:8: file `answers`: `order_by` is not a regular expression: regex parse error:\n    (\\d+\n    ^\nerror: unclosed group",
        "corpora-manifests/demo.toml:24:8: file `answers`: `order_by` orders the files of a set; add `many = true` or remove it",
        "corpora-manifests/demo.toml:24:8: path pattern: `[` without a closing `]` in `[train.parquet`",
        "corpora-manifests/demo.toml:29:6: variant `hub` needs `obtain`: how a user gets these files and where to put them",
        "corpora-manifests/demo.toml:29:6: variant id `hub` is declared twice in this manifest",
        "corpora-manifests/demo.toml:39:6: variant `hub` overrides task `task901_nothing`, which this manifest does not declare",
        "corpora-manifests/demo.toml:52:9: split policy `official` needs every file the task reads to declare its split; file `answers` has none",
    ];
    assert_eq!(d, expected, "\n{}", d.join("\n"));
}

#[test]
fn a_task_must_find_its_files_in_every_variant() {
    let text = format!(
        r#"{HEAD}
[[variants]]
id = "hub"
name = "Hub copy"
obtain = "Download it."

[[variants.files]]
id = "qa"
path = "qa.parquet"
format = "parquet"
split = "train"

[[variants]]
id = "authors"
name = "Authors"
obtain = "Clone it."
steps = [{{ op = "join", file = "lookup", key = "{{{{ id }}}}", on = "{{{{ id }}}}", into = "x" }}]

[[variants.files]]
id = "questions"
path = "q.jsonl"
format = "jsonl"
split = "train"
{TASK}files = ["qa"]
"#
    );
    assert_eq!(
        diagnostics(&text),
        [
            "corpora-manifests/demo.toml:26:10: step refers to file `lookup`, which variant `authors` does not declare in its [[variants.files]]",
            "corpora-manifests/demo.toml:46:10: task `task900_demo_qa` reads file `qa`, which variant `authors` does not declare in its [[variants.files]]"
        ]
    );
}
