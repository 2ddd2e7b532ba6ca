//! Publishing the demo build: the dataset card's Hub metadata, chat and other training
//! exports (with a token bound on a BPE trained here), `push` (dry run and a stand-in
//! `huggingface_hub`), and the HTML report rendered in headless Chromium.

use medsins_e2e::*;
use medsins_pipeline::Checksums;
use medsins_pipeline::tokens::InstructionIn;
use medsins_pipeline::{BuildOptions, build};
use medsins_publish::BuildDir;
use medsins_publish::export::{ExportOptions, Format, export};
use medsins_publish::push::{Gate, PushOptions, push};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const MEQSUM: &str = "task114_medqsum_text_summurization";
const MEQSUM_DEFINITION: &str = "You will be given a long medical question. Your task is to summarize the consumer health question.";

/// The demo build (every fixture), built once for this test binary.
fn demo() -> &'static Path {
    static DEMO: OnceLock<tempfile::TempDir> = OnceLock::new();
    DEMO.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = BuildOptions::new(fixtures_root(), tmp.path().join("out"));
        opts.checksums = Checksums::Skip; // the fixtures are not the releases
        let report = build(&catalogue(), &opts).expect("demo build");
        assert_eq!(report.exit_code(), 0, "{:?}", report.corpora);
        tmp
    })
    .path()
    .join("out")
    .leak()
}

/// A public build of MeQSum alone.
fn public_meqsum(out: &Path) {
    let mut opts = BuildOptions::new(fixtures_root(), out.to_path_buf());
    opts.checksums = Checksums::Skip;
    opts.selection.only = vec!["meqsum".into()];
    build(&catalogue(), &opts).expect("meqsum build");
}

fn expected_rows(corpus: &str, task: &str) -> Vec<Value> {
    std::fs::read_to_string(repo().join(format!("fixtures/expected/{corpus}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["task_id"] == task)
        .collect()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn opts(format: Format) -> ExportOptions<'static> {
    ExportOptions {
        format,
        instruction_in: InstructionIn::System,
        counter: None,
        max_tokens: None,
        catalogue: None,
    }
}

#[test]
fn demo_card_has_every_hub_metadata_field_that_applies() {
    let out = demo();
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    let (front, body) = card
        .strip_prefix("---\n")
        .and_then(|c| c.split_once("\n---\n"))
        .expect("YAML front matter");
    let top: Vec<&str> = front
        .lines()
        .filter(|l| !l.starts_with([' ', '-']))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        top,
        [
            "pretty_name",
            "language",
            "multilinguality",
            "license",
            "license_name",
            "license_link",
            "annotations_creators",
            "language_creators",
            "size_categories",
            "source_datasets",
            "task_categories",
            "task_ids",
            "tags",
            "meds_ins_categories",
            "medsins_build",
            "extra_gated_prompt",
            "extra_gated_fields",
            "configs",
            "dataset_info",
        ]
    );
    // language codes are quoted (`no` would be a YAML boolean)
    let langs: Vec<&str> = front
        .split("language:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("- "))
        .collect();
    assert!(
        langs.contains(&"- \"en\"") && langs.contains(&"- \"zh\""),
        "{langs:?}"
    );
    assert!(
        langs.iter().all(|l| l.len() == 6 && l.starts_with("- \"")),
        "{langs:?}"
    );
    assert!(front.contains("multilinguality:\n- multilingual\n"));
    assert!(front.contains(
        "license: other\nlicense_name: medsins-per-corpus-licences\nlicense_link: LICENSE.md\n"
    ));
    let licence = std::fs::read_to_string(out.join("LICENSE.md")).unwrap();
    assert!(
        licence.contains("| MeQSum | CC-BY-4.0 | public |"),
        "{licence}"
    );
    let stats: medsins_output::Stats =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let size = match stats.samples {
        0..1000 => "n<1K",
        1000..10_000 => "1K<n<10K",
        _ => "10K<n<100K",
    };
    assert!(
        front.contains(&format!("size_categories:\n- \"{size}\"\n")),
        "{size}"
    );
    assert!(front.contains("- \"extended|meqsum\"\n"));
    assert!(
        front.contains(
            "medsins_build:\n  profile: clean\n  leakage: remove\n  near_dedup: manifest\n"
        )
    );
    for c in [
        "text-generation",
        "question-answering",
        "summarization",
        "token-classification",
        "translation",
        "text-classification",
    ] {
        assert!(front.contains(&format!("\n- {c}\n")), "task category {c}");
    }
    assert!(front.contains("\n- named-entity-recognition\n"));
    // one config per task and the default, each with dataset_info whose counts are the stats'
    assert_eq!(
        front.matches("- config_name:").count(),
        2 * (stats.tasks as usize + 1)
    );
    let info = front.split("dataset_info:\n").nth(1).unwrap();
    for split in ["train", "validation", "test"] {
        let in_default: u64 = info
            .split("- config_name:")
            .nth(1)
            .unwrap()
            .split(&format!("  - name: {split}\n"))
            .nth(1)
            .and_then(|s| s.lines().nth(1))
            .and_then(|l| l.trim().strip_prefix("num_examples: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(in_default, stats.per_split[split], "{split}");
    }
    assert!(info.contains(
        "  - name: domains\n    list: string\n  - name: instruction\n    dtype: string\n"
    ));
    assert!(front.contains(&format!("- config_name: \"{MEQSUM}\"\n  data_files:\n  - split: train\n    path: \"data/{MEQSUM}/train-*.parquet\"\n")));
    for section in [
        "## How the rows were prepared",
        "## How to load",
        "## Data fields",
        "## Limitations",
        "## Sources, licences and citations",
        "Warning: restricted data",
    ] {
        assert!(body.contains(section), "{section}");
    }
    assert!(body.contains("| `input` | string | the model's input |"));
    assert!(
        body.contains("pl.read_parquet(")
            && body.contains("-- DuckDB")
            && body.contains("load_dataset(")
    );
    // LICENSE.md is covered by the checksums like every file
    assert!(
        std::fs::read_to_string(out.join("SHA256SUMS"))
            .unwrap()
            .contains("  LICENSE.md\n")
    );
}

#[test]
fn chat_exports_load_as_messages() {
    let out = demo();
    let tmp = tempfile::tempdir().unwrap();
    let dir = BuildDir::open(out).unwrap();
    // the demo's rows of the task, as the build wrote them
    let expected: Vec<serde_json::Map<String, Value>> = medsins_output::read_samples(
        &out.join(format!("data/{MEQSUM}/train-00000-of-00001.parquet")),
    )
    .unwrap();
    assert_eq!(expected.len(), 3);
    assert!(
        expected
            .iter()
            .all(|r| r["instruction"] == MEQSUM_DEFINITION)
    );

    let summary = export(&dir, &tmp.path().join("chat"), &opts(Format::Chat)).unwrap();
    assert_eq!(summary.rows, dir.stats.samples);
    let lines = jsonl(&tmp.path().join(format!("chat/{MEQSUM}.jsonl")));
    let want: Vec<Value> = expected
        .iter()
        .map(|r| {
            json!({"messages": [
                {"role": "system", "content": MEQSUM_DEFINITION},
                {"role": "user", "content": r["input"]},
                {"role": "assistant", "content": r["output"]},
            ]})
        })
        .collect();
    assert_eq!(lines, want);
    // every line of every file is a conversation of system, user and assistant turns
    for f in &summary.files {
        for l in jsonl(&tmp.path().join("chat").join(&f.file)) {
            let roles: Vec<&str> = l["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["role"].as_str().unwrap())
                .collect();
            assert_eq!(roles, ["system", "user", "assistant"], "{}", f.file);
        }
    }

    let mut user = opts(Format::Chat);
    user.instruction_in = InstructionIn::User;
    export(&dir, &tmp.path().join("chat-user"), &user).unwrap();
    let lines = jsonl(&tmp.path().join(format!("chat-user/{MEQSUM}.jsonl")));
    assert_eq!(
        lines[0],
        json!({"messages": [
            {"role": "user", "content": format!("{MEQSUM_DEFINITION}\n\n{}", expected[0]["input"].as_str().unwrap())},
            {"role": "assistant", "content": expected[0]["output"]},
        ]})
    );

    export(&dir, &tmp.path().join("sharegpt"), &opts(Format::ShareGpt)).unwrap();
    let lines = jsonl(&tmp.path().join(format!("sharegpt/{MEQSUM}.jsonl")));
    assert_eq!(
        lines[1],
        json!({"conversations": [
            {"from": "system", "value": MEQSUM_DEFINITION},
            {"from": "human", "value": expected[1]["input"]},
            {"from": "gpt", "value": expected[1]["output"]},
        ]})
    );
    export(&dir, &tmp.path().join("alpaca"), &opts(Format::Alpaca)).unwrap();
    let lines = jsonl(&tmp.path().join(format!("alpaca/{MEQSUM}.jsonl")));
    assert_eq!(
        lines[0],
        json!({"instruction": MEQSUM_DEFINITION, "input": expected[0]["input"], "output": expected[0]["output"]})
    );

    // the MedS-Ins task JSON keeps its layout
    let cat = catalogue();
    let mut tj = opts(Format::TaskJson);
    tj.catalogue = Some(&cat);
    export(&dir, &tmp.path().join("task-json"), &tj).unwrap();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join(format!("task-json/{MEQSUM}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["Definition"], json!([MEQSUM_DEFINITION]));
    assert_eq!(doc["Source"], json!(["MeQSum"]));
    assert_eq!(doc["Input_language"], json!(["English"]));
    assert_eq!(doc["Split Type"], "Train");
    let inst = doc["Instances"].as_array().unwrap();
    assert_eq!(inst.len(), expected.len());
    assert_eq!(inst[0]["input"], expected[0]["input"]);
    assert_eq!(inst[0]["output"], json!([expected[0]["output"]]));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("task-json/EXPORT.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["format"], "task-json");
}

const MEDQA_ZH: &str = "task58_medqa_question_answering_zh";

fn definition(task: &str) -> String {
    let cat = catalogue();
    let (_, t) = cat
        .tasks()
        .into_iter()
        .find(|(_, t)| *t.id.get_ref() == task)
        .unwrap();
    t.definition.clone()
}

/// A byte-level BPE of 400 tokens trained on the Chinese MedQA fixture, with the ChatML tokens.
fn train_tokenizer(dir: &Path, rows: &[Value], instruction: &str) -> PathBuf {
    use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::{
        AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
        TokenizerBuilder,
    };
    let text = dir.join("text.txt");
    let corpus: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}\n{}",
                r["input"].as_str().unwrap(),
                r["output"].as_str().unwrap()
            )
        })
        .collect();
    std::fs::write(&text, format!("{instruction}\n{}", corpus.join("\n"))).unwrap();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(400)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(vec![
            AddedToken::from("<|im_start|>", true),
            AddedToken::from("<|im_end|>", true),
        ])
        .build();
    let mut tok = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::default())))
    .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())))
    .build()
    .unwrap();
    tok.train_from_files(&mut trainer, vec![text.display().to_string()])
        .unwrap();
    let path = dir.join("tokenizer.json");
    tok.save(&path, false).unwrap();
    path
}

const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

#[test]
fn max_tokens_counts_instruction_input_output_or_the_rendered_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = expected_rows("medqa", MEDQA_ZH);
    let instruction = definition(MEDQA_ZH);
    let tok_path = train_tokenizer(tmp.path(), &rows, &instruction);
    let config = tmp.path().join("tokenizer_config.json");
    std::fs::write(
        &config,
        json!({"chat_template": CHATML, "eos_token": "<|im_end|>"}).to_string(),
    )
    .unwrap();
    let tok = tokenizers::Tokenizer::from_file(&tok_path).unwrap();
    let count = |t: &str| tok.encode(t, false).unwrap().len();
    // independent counts: the three texts, and the ChatML conversation written out here
    let plain: Vec<usize> = rows
        .iter()
        .map(|r| {
            count(&instruction)
                + count(r["input"].as_str().unwrap())
                + count(r["output"].as_str().unwrap())
        })
        .collect();
    let chat: Vec<usize> = rows
        .iter()
        .map(|r| {
            count(&format!(
                "<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n{}<|im_end|>\n",
                r["input"].as_str().unwrap(),
                r["output"].as_str().unwrap()
            ))
        })
        .collect();
    assert!(
        chat.iter().zip(&plain).all(|(c, p)| c > p),
        "the template adds tokens"
    );

    let out = tmp.path().join("out");
    let mut b = BuildOptions::new(fixtures_root(), out.clone());
    b.checksums = Checksums::Skip;
    b.selection.only = vec![MEDQA_ZH.into()];
    build(&catalogue(), &b).unwrap();
    let dir = BuildDir::open(&out).unwrap();
    for (template, counts) in [(None, &plain), (Some(&config), &chat)] {
        let mut sorted = counts.clone();
        sorted.sort();
        let max = sorted[sorted.len() / 2];
        let counter = medsins_pipeline::tokens::Counter::load(&tok_path).unwrap();
        let counter = match template {
            Some(c) => counter.with_template(
                medsins_pipeline::tokens::ChatTemplate::load(c, InstructionIn::System).unwrap(),
            ),
            None => counter,
        };
        let mut o = opts(Format::Alpaca);
        o.counter = Some(&counter);
        o.max_tokens = Some(max);
        let to = tmp.path().join(format!("export-{}", template.is_some()));
        let summary = export(&dir, &to, &o).unwrap();
        let mut kept: Vec<String> = summary
            .files
            .iter()
            .flat_map(|f| jsonl(&to.join(&f.file)))
            .map(|l| l["input"].as_str().unwrap().to_string())
            .collect();
        let mut want: Vec<String> = rows
            .iter()
            .zip(counts.iter())
            .filter(|(_, n)| **n <= max)
            .map(|(r, _)| r["input"].as_str().unwrap().to_string())
            .collect();
        kept.sort();
        want.sort();
        assert_eq!(kept, want, "template {template:?}");
        assert!(
            want.len() > rows.len() / 3 && want.len() < rows.len(),
            "{} of {}",
            want.len(),
            rows.len()
        );
        assert_eq!(summary.too_long.len(), rows.len() - want.len());
        let longest = summary
            .too_long
            .iter()
            .map(|t| t.tokens as usize)
            .max()
            .unwrap();
        assert_eq!(longest, *sorted.last().unwrap());

        // the build bounds the same length and ledgers what it removes
        let bout = tmp.path().join(format!("build-{}", template.is_some()));
        let mut b = BuildOptions::new(fixtures_root(), bout.clone());
        b.checksums = Checksums::Skip;
        b.selection.only = vec![MEDQA_ZH.into()];
        b.tokenizer = Some(tok_path.clone());
        b.max_tokens = Some(max);
        b.chat_template = template.cloned();
        let report = build(&catalogue(), &b).unwrap();
        assert_eq!(
            report
                .removed_by_reason
                .get("too_long")
                .copied()
                .unwrap_or(0),
            summary.too_long.len() as u64
        );
        let ledger = medsins_output::read_ledger(&bout.join("ledger.parquet")).unwrap();
        let too_long = medsins_core::LedgerReason::TooLong;
        let mut removed: Vec<String> = ledger
            .iter()
            .filter(|e| e.reason == too_long)
            .filter_map(|e| e.id.map(|x| x.to_string()))
            .collect();
        let mut exported: Vec<String> = summary.too_long.iter().map(|t| t.id.clone()).collect();
        removed.sort();
        exported.sort();
        assert_eq!(removed, exported);
        let detail = &ledger.iter().find(|e| e.reason == too_long).unwrap().detail;
        let what = if template.is_some() {
            "tokens of the conversation rendered by tokenizer_config.json"
        } else {
            "instruction + input + output tokens"
        };
        assert!(
            detail.ends_with(&format!("{what} > --max-tokens {max}")),
            "{detail}"
        );
        let lock = std::fs::read_to_string(bout.join("medsins.lock.json")).unwrap();
        assert_eq!(lock.contains("\"chat_template\""), template.is_some());
    }
}

fn push_opts(private: bool, gated: Option<Gate>, dry_run: bool, python: &str) -> PushOptions {
    PushOptions {
        repo: "my-lab/meds-ins".into(),
        private,
        gated,
        dry_run,
        python: python.into(),
        commit_message: "Upload a medsins build".into(),
    }
}

#[test]
fn push_dry_run_refuses_a_credentialed_build_and_lists_a_public_one() {
    let out = demo();
    let dir = BuildDir::open(out).unwrap();
    let restricted = dir.restricted_rows();
    assert!(restricted.contains_key("credentialed"), "{restricted:?}");
    let rows: Vec<String> = restricted.iter().map(|(a, n)| format!("{n} {a}")).collect();
    let refusal = format!(
        "{} holds rows whose terms forbid redistribution ({} rows); nothing was sent. Publish it only to a private, gated repository (--private --gated manual), or rebuild with --access public for a shareable dataset",
        out.display(),
        rows.join(", ")
    );
    for (private, gated) in [(false, None), (true, None), (false, Some(Gate::Manual))] {
        let e = push(&dir, &push_opts(private, gated, true, "python3")).unwrap_err();
        assert_eq!(e.to_string(), refusal);
    }
    let plan = push(&dir, &push_opts(true, Some(Gate::Manual), true, "python3")).unwrap();
    assert!(!plan.uploaded);
    assert_eq!(
        plan.files.len(),
        medsins_output::list_files(out).unwrap().len() + 1,
        "and SHA256SUMS"
    );

    let tmp = tempfile::tempdir().unwrap();
    let public = tmp.path().join("out");
    public_meqsum(&public);
    let dir = BuildDir::open(&public).unwrap();
    let plan = push(&dir, &push_opts(false, None, true, "python3")).unwrap();
    let names: Vec<&str> = plan.files.iter().map(|f| f.0.as_str()).collect();
    for f in [
        "README.md",
        "LICENSE.md",
        "SHA256SUMS",
        "ledger.parquet",
        "medsins.lock.json",
        "stats.json",
    ] {
        assert!(names.contains(&f), "{f}: {names:?}");
    }
    assert!(names.contains(&format!("data/{MEQSUM}/train-00000-of-00001.parquet").as_str()));
    assert_eq!(plan.bytes, plan.files.iter().map(|f| f.1).sum::<u64>());
    // a directory that no longer matches its checksums is refused
    let card = std::fs::read_to_string(public.join("README.md")).unwrap();
    std::fs::write(public.join("README.md"), card + "edited\n").unwrap();
    let e = push(
        &BuildDir::open(&public).unwrap(),
        &push_opts(false, None, true, "python3"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: 1 file(s) do not match SHA256SUMS (README.md: content differs from its checksum); rebuild, or run `medsins verify {}`, before publishing",
            public.display(),
            public.display()
        )
    );
}

/// A `python3` whose `huggingface_hub` is the given Python source (a stand-in: no network).
fn python_with(dir: &Path, module: &str) -> Option<String> {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        return None;
    }
    let pkg = dir.join("huggingface_hub");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), module).unwrap();
    let wrapper = dir.join("python");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nPYTHONPATH='{}' exec python3 \"$@\"\n",
            dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(wrapper.display().to_string())
}

/// Records every call in calls.jsonl beside it; the repository's settings are kept in memory.
const STAND_IN_HUB: &str = r#"
import json, os
LOG = os.path.join(os.path.dirname(os.path.dirname(__file__)), "calls.jsonl")
STATE = {"private": False, "gated": False}
def _log(name, *args, **kw):
    with open(LOG, "a") as f:
        f.write(json.dumps({"call": name, "args": list(args), "kw": kw}, sort_keys=True) + "\n")
class _Info:
    def __init__(self):
        self.private = STATE["private"]
        self.gated = STATE["gated"]
class _Commit:
    commit_url = "https://hub.invalid/datasets/my-lab/meds-ins/commit/1"
class HfApi:
    def create_repo(self, repo_id, **kw):
        _log("create_repo", repo_id, **kw)
        STATE["private"] = bool(kw.get("private"))
    def update_repo_settings(self, repo_id, **kw):
        _log("update_repo_settings", repo_id, **kw)
        if kw.get("private") is not None:
            STATE["private"] = kw["private"]
        if kw.get("gated") is not None:
            STATE["gated"] = kw["gated"]
    def repo_info(self, repo_id, **kw):
        _log("repo_info", repo_id, **kw)
        return _Info()
    def upload_folder(self, **kw):
        kw["folder_path"] = os.path.basename(kw["folder_path"])
        _log("upload_folder", **kw)
        return _Commit()
"#;

#[test]
fn push_uploads_through_huggingface_hub_and_says_when_it_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(python) = python_with(&tmp.path().join("hub"), STAND_IN_HUB) else {
        return skip("python3 is not installed: the push subprocess cannot be exercised");
    };
    let dir = BuildDir::open(demo()).unwrap();
    let plan = push(&dir, &push_opts(true, Some(Gate::Manual), false, &python)).unwrap();
    assert!(plan.uploaded);
    let calls: Vec<Value> = jsonl(&tmp.path().join("hub/calls.jsonl"));
    let files: Vec<&str> = plan.files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        calls,
        [
            json!({"call": "create_repo", "args": ["my-lab/meds-ins"], "kw": {"exist_ok": true, "private": true, "repo_type": "dataset"}}),
            json!({"call": "update_repo_settings", "args": ["my-lab/meds-ins"], "kw": {"gated": "manual", "private": true, "repo_type": "dataset"}}),
            json!({"call": "repo_info", "args": ["my-lab/meds-ins"], "kw": {"repo_type": "dataset"}}),
            json!({"call": "upload_folder", "args": [], "kw": {"allow_patterns": files, "commit_message": "Upload a medsins build", "folder_path": "out", "repo_id": "my-lab/meds-ins", "repo_type": "dataset"}}),
        ]
    );

    // huggingface_hub absent: a clear message, nothing sent
    let missing = tmp.path().join("missing");
    let python = python_with(
        &missing,
        "raise ImportError('No module named huggingface_hub')",
    )
    .unwrap();
    let e = push(&dir, &push_opts(true, Some(Gate::Manual), false, &python)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "huggingface_hub is not installed for `{python}`: run `{python} -m pip install huggingface_hub`, log in (`hf auth login`, or set HF_TOKEN), then push again; nothing was sent"
        )
    );
    assert!(!missing.join("calls.jsonl").exists());
}

/// Renders a page in headless Chromium; `None` (with the reason printed) when it is absent.
fn screenshot(html: &Path, png: &Path, size: (u32, u32)) -> Option<String> {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        skip(
            "chromium is not installed (`apt-get install -y chromium`; .ci/run installs it): the report is not rendered",
        );
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_html_report_renders_in_chromium() {
    let out = demo();
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("report.html");
    medsins_publish::report::write(&BuildDir::open(out).unwrap(), &html).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    // self-contained: no script, every URL is the SVG namespace
    assert!(!page.contains("<script"));
    assert_eq!(
        page.matches("http").count(),
        page.matches("http://www.w3.org/2000/svg").count()
    );
    for section in [
        "Rows per category",
        "Rows per task",
        "Text lengths",
        "What each quality stage removed",
        "Near-duplicate clusters",
        "Licence and access mix",
        "Semantic checks",
        "Restricted rows",
    ] {
        assert!(page.contains(section), "{section}");
    }
    assert!(
        page.contains(&format!("<title>{MEQSUM} (meqsum, Text Summarization)")),
        "a task bar"
    );

    let png = tmp.path().join("report.png");
    let Some(log) = screenshot(&html, &png, (1000, 3000)) else {
        return;
    };
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Failed to load") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "the page logged errors:\n{}",
        console.join("\n")
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1000, 3000));
    let px = info.color_type.samples();
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    assert!(white < pixels.len() * 97 / 100, "the page is blank");
    // the palette's bar colours are on screen
    for (name, rgb) in [
        ("blue", [0x4e, 0x79, 0xa7]),
        ("orange", [0xf2, 0x8e, 0x2b]),
        ("green", [0x59, 0xa1, 0x4f]),
        ("red", [0xe1, 0x57, 0x59]),
    ] {
        let n = pixels
            .iter()
            .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 3))
            .count();
        assert!(n > 200, "{name}: {n} pixels");
    }
}

#[test]
fn a_folder_that_is_not_a_build_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = BuildDir::open(tmp.path()).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: No such file or directory (os error 2); give the directory a `medsins build` wrote (it holds stats.json)",
            tmp.path().join("stats.json").display()
        )
    );
}
