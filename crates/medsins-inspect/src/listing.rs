//! `medsins list`: the catalogue's corpora and tasks.

use medsins_manifest::Catalogue;
use medsins_pipeline::corpus::raw_rel_path;
use medsins_readers::InstructionBank;
use serde::Serialize;

/// What `medsins list --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// The catalogue listed: its folder, or the one bundled with medsins.
    pub catalogue: String,
    pub corpora: Vec<CorpusEntry>,
    /// Ordered by task number.
    pub tasks: Vec<TaskEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorpusEntry {
    pub corpus_id: String,
    pub name: String,
    pub homepage: String,
    pub version: String,
    pub license: String,
    pub access: String,
    /// Expected paths under the raw root (a manifest with one distribution).
    pub files: Vec<String>,
    /// Every accepted distribution, in the order the build looks for them.
    pub variants: Vec<VariantEntry>,
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantEntry {
    pub id: String,
    pub name: String,
    /// Expected paths (or patterns) under the raw root.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskEntry {
    pub task_no: u32,
    pub task_id: String,
    pub corpus_id: String,
    pub name: String,
    pub category: String,
    pub text_source: String,
    pub languages: Vec<String>,
    /// Whether the task's rendering is confirmed against the authors' (else inferred).
    pub confirmed: bool,
    /// Instructions available: the bank's original and paraphrases, or the definition alone.
    pub instructions: usize,
    pub access: String,
}

pub fn listing(cat: &Catalogue, bank: Option<&InstructionBank>) -> Listing {
    let corpora = cat
        .manifests
        .iter()
        .map(|m| {
            let c = &m.manifest.corpus;
            CorpusEntry {
                corpus_id: m.manifest.id().to_string(),
                name: c.name.clone(),
                homepage: c.homepage.clone(),
                version: c.version.clone(),
                license: c.license.clone(),
                access: c.access.get_ref().clone(),
                files: m
                    .manifest
                    .files
                    .iter()
                    .map(|f| raw_rel_path(m.manifest.id(), f))
                    .collect(),
                variants: m
                    .manifest
                    .variants
                    .iter()
                    .map(|v| VariantEntry {
                        id: v.id.get_ref().clone(),
                        name: v.name.clone(),
                        files: v
                            .files
                            .iter()
                            .map(|f| raw_rel_path(m.manifest.id(), f))
                            .collect(),
                    })
                    .collect(),
                tasks: m
                    .manifest
                    .tasks
                    .iter()
                    .map(|t| t.id.get_ref().clone())
                    .collect(),
            }
        })
        .collect();
    let tasks = cat
        .tasks()
        .into_iter()
        .map(|(m, t)| TaskEntry {
            task_no: *t.number.get_ref(),
            task_id: t.id.get_ref().clone(),
            corpus_id: m.manifest.id().to_string(),
            name: t.name.clone(),
            category: t.category.get_ref().clone(),
            text_source: t.text_source.get_ref().clone(),
            languages: t.languages(),
            confirmed: t.confirmed,
            instructions: medsins_pipeline::instruction_set(t, bank).len(),
            access: m.manifest.corpus.access.get_ref().clone(),
        })
        .collect();
    Listing {
        catalogue: cat.source.to_string(),
        corpora,
        tasks,
    }
}
