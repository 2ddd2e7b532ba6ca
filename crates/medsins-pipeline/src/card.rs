//! The dataset card (`README.md` of the output): a YAML header a Hugging Face hub user
//! recognises (one config per task plus a default), then counts, licences and citations.

use medsins_core::TaskMeta;
use medsins_manifest::LoadedManifest;
use medsins_output::{Lock, Stats};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `sources`: corpus id → (variant id, its name), the distribution each corpus was read from.
pub fn dataset_card(
    manifests: &[&LoadedManifest],
    sources: &BTreeMap<String, (String, String)>,
    built: &[&TaskMeta],
    stats: &Stats,
    lock: &Lock,
) -> String {
    let mut y = String::new();
    let languages: BTreeSet<&str> = built
        .iter()
        .flat_map(|t| t.languages.iter().map(|s| s.as_str()))
        .collect();
    let categories: BTreeSet<&str> = built.iter().map(|t| t.category.as_str()).collect();
    let count = |t: &TaskMeta, split: &str| -> u64 {
        stats
            .per_task
            .get(&t.task_id)
            .and_then(|s| s.per_split.get(split))
            .copied()
            .unwrap_or(0)
    };
    let _ = writeln!(y, "---");
    let _ = writeln!(y, "pretty_name: MedS-Ins (rebuilt with medsins)");
    let _ = writeln!(y, "license: other");
    let _ = writeln!(y, "language:");
    for l in &languages {
        let _ = writeln!(y, "- {l}");
    }
    let _ = writeln!(y, "task_categories:\n- text-generation");
    let _ = writeln!(y, "tags:\n- medical\n- instruction-tuning");
    let _ = writeln!(y, "meds_ins_categories:");
    for c in &categories {
        let _ = writeln!(y, "- {}", yaml_str(c));
    }
    let _ = writeln!(y, "configs:");
    let splits_present = |pred: &dyn Fn(&TaskMeta) -> bool| -> Vec<&'static str> {
        ["train", "validation", "test"]
            .into_iter()
            .filter(|s| built.iter().any(|t| pred(t) && count(t, s) > 0))
            .collect()
    };
    if !built.is_empty() {
        let _ = writeln!(y, "- config_name: default\n  data_files:");
        for s in splits_present(&|_| true) {
            let _ = writeln!(y, "  - split: {s}\n    path: data/*/{s}-*.parquet");
        }
    }
    for t in built {
        if stats
            .per_task
            .get(&t.task_id)
            .is_none_or(|s| s.samples == 0)
        {
            continue;
        }
        let _ = writeln!(y, "- config_name: {}\n  data_files:", t.task_id);
        for s in splits_present(&|x| x.task_id == t.task_id) {
            let _ = writeln!(
                y,
                "  - split: {s}\n    path: data/{}/{s}-*.parquet",
                t.task_id
            );
        }
    }
    let _ = writeln!(y, "---\n");

    let mut b = y;
    let _ = writeln!(b, "# MedS-Ins, rebuilt from raw corpora\n");
    let _ = writeln!(
        b,
        "Built by `{}` from {} corpora into {} samples over {} tasks. Every row carries its provenance \
         (`source_variant`, `source_file`, `source_locator`, `raw_sha256`, `manifest_sha256`); `medsins audit <id>` traces \
         any row to its raw record. Removed samples are listed in `ledger.parquet`.\n",
        lock.builder_version, stats.corpora, stats.samples, stats.tasks
    );
    if !lock.complete {
        let _ = writeln!(
            b,
            "**Partial build.** Missing corpora: {:?}; failed: {:?}.\n",
            lock.missing, lock.failed
        );
    }
    let credentialed: Vec<&str> = manifests
        .iter()
        .filter(|m| m.manifest.corpus.access.get_ref() != "public")
        .map(|m| m.manifest.id())
        .collect();
    if !credentialed.is_empty() {
        let _ = writeln!(
            b,
            "> **Warning: restricted data.** Rows from registration-only or credentialed corpora are present \
             ({}). Their terms (e.g. the PhysioNet Credentialed Health Data Use Agreement) forbid redistribution: \
             do not publish this directory. Rebuild with `--access public` for a shareable subset.\n",
            credentialed.join(", ")
        );
    }
    let nc: Vec<&str> = manifests
        .iter()
        .filter(|m| {
            // CC licences mark it `-NC` / `BY-NC`; others spell it out
            let l = m.manifest.corpus.license.to_lowercase();
            ["-nc", " nc", "non-commercial", "noncommercial"]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(|m| m.manifest.id())
        .collect();
    if !nc.is_empty() {
        let _ = writeln!(
            b,
            "> **Warning: non-commercial licences** apply to rows of: {}.\n",
            nc.join(", ")
        );
    }
    let _ = writeln!(
        b,
        "## Tasks\n\n| task | no. | corpus | category | train | validation | test |\n|---|---|---|---|---|---|---|"
    );
    for t in built {
        let _ = writeln!(
            b,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            t.task_id,
            t.task_no,
            t.corpus_id,
            t.category,
            count(t, "train"),
            count(t, "validation"),
            count(t, "test")
        );
    }
    let _ = writeln!(
        b,
        "\n## Sources, licences and citations\n\n| corpus | built from | licence | access | samples |\n|---|---|---|---|---|"
    );
    for m in manifests {
        let id = m.manifest.id();
        let from = match sources.get(id) {
            Some((v, name)) => format!("{name} (`{v}`)"),
            None => String::new(),
        };
        let _ = writeln!(
            b,
            "| [{}]({}) | {from} | {} | {} | {} |",
            m.manifest.corpus.name,
            m.manifest.corpus.homepage,
            m.manifest.corpus.license,
            m.manifest.corpus.access.get_ref(),
            stats.per_corpus.get(id).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(b, "\n### Citations\n");
    for m in manifests {
        let _ = writeln!(
            b,
            "**{}**\n\n```\n{}\n```\n",
            m.manifest.corpus.name,
            m.manifest.corpus.citation.trim()
        );
    }
    b
}
