//! The catalogue: every manifest validates, every corpus builds from its fixture and gives the
//! exact expected rows, and the generated schema and catalogue document are current.

use medsins_e2e::*;
use serde_json::Value;

#[test]
fn every_manifest_validates_and_compiles() {
    let cat = catalogue();
    let diags = medsins_manifest::check_catalogue(&cat.manifests);
    assert!(diags.is_empty(), "{diags}");
    // templates rendered without minijinja (medsins-render `direct`), of all input, output and
    // group-key templates: debug builds, so every fixture test, render each record both ways
    // and fail when the two differ
    let (mut direct, mut templates) = (0, 0);
    for lm in &cat.manifests {
        // every task as each distribution builds it (its variant's steps first)
        for v in lm.manifest.variant_ids() {
            let view = lm.manifest.for_variant(v).expect("declared variant");
            for t in &view.tasks {
                match medsins_render::TaskRenderer::compile(t, Default::default()) {
                    Ok(r) => direct += r.direct_templates(),
                    Err(errs) => panic!("{} ({v}): {:?}", t.id.get_ref(), errs),
                }
                templates += 2 + usize::from(t.group_key.is_some());
            }
        }
    }
    assert_eq!(
        (direct, templates),
        (288, 385),
        "direct plans of the catalogue's templates"
    );
}

/// `fixtures/expected/<corpus>.jsonl`: one object per expected sample with `task_id`,
/// `source_locator` (and `source_file` where locators repeat across files), `split`, `input`, `output`. Every task needs at least two, and each must
/// match a sample of the fixture build exactly.
#[test]
fn every_corpus_fixture_gives_its_expected_rows() {
    let cat = catalogue();
    let mut failures = Vec::new();
    // MEDSINS_ONLY=id,id restricts the check to some corpora while working on them
    let only: Vec<String> = std::env::var("MEDSINS_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    for lm in &cat.manifests {
        let id = lm.manifest.id();
        if !only.is_empty() && !only.iter().any(|o| o == id) {
            continue;
        }
        let builds = match build_corpus(lm, &fixtures_root()) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{id}: fixture does not build: {e}"));
                continue;
            }
        };
        let path = repo().join("fixtures/expected").join(format!("{id}.jsonl"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let expected: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("expected row is JSON"))
            .collect();
        for tb in &builds {
            let mine: Vec<&Value> = expected
                .iter()
                .filter(|e| e["task_id"] == tb.meta.task_id.as_str())
                .collect();
            if mine.len() < 2 {
                failures.push(format!(
                    "{id}: task {} has {} expected rows in {} (at least 2 needed)",
                    tb.meta.task_id,
                    mine.len(),
                    path.display()
                ));
            }
            if tb.samples.is_empty() {
                failures.push(format!(
                    "{id}: task {} gives no sample on its fixture",
                    tb.meta.task_id
                ));
            }
            for e in mine {
                let loc = e["source_locator"].as_str().unwrap_or("");
                // `source_file` is optional in expected rows: needed when several files of a
                // task share locators (`row 1` of train.csv and of test.csv)
                let file = e["source_file"].as_str();
                match tb
                    .samples
                    .iter()
                    .find(|s| s.source_locator == loc && file.is_none_or(|f| f == s.source_file))
                {
                    None => failures.push(format!(
                        "{id}: {} has no sample at `{loc}`",
                        tb.meta.task_id
                    )),
                    Some(s) => {
                        for (field, got) in [
                            ("input", s.input.as_str()),
                            ("output", s.output.as_str()),
                            ("split", s.split.map_or("", |x| x.as_str())),
                        ] {
                            if e[field].as_str() != Some(got) {
                                failures.push(format!(
                                    "{id}: {} @ {loc}: {field} differs\n  expected: {:?}\n  got:      {:?}",
                                    tb.meta.task_id, e[field], got
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn checked_in_schema_is_generated_from_the_types() {
    let on_disk =
        std::fs::read_to_string(repo().join("schemas/manifest.schema.json")).unwrap_or_default();
    assert!(
        on_disk == medsins_manifest::json_schema(),
        "schemas/manifest.schema.json is stale: run `cargo run -- catalogue schema -o schemas/manifest.schema.json`"
    );
}

#[test]
fn catalogue_doc_is_generated_from_the_manifests() {
    let on_disk = std::fs::read_to_string(repo().join("docs/catalogue.md")).unwrap_or_default();
    assert!(
        on_disk == medsins_inspect::catalogue_doc(&catalogue()),
        "docs/catalogue.md is stale: run `cargo run -- catalogue doc -o docs/catalogue.md`"
    );
}
