//! Phase 1, plan: which corpora and tasks the build covers, from which distribution (variant)
//! of each corpus, which raw files they read (found and checksummed), and the jobs (one per
//! task) grouped by the files they share.

use crate::corpus::{Resolution, ResolvedCorpus, Survey, survey_variants};
use crate::report::{CorpusReport, CorpusStatus, MissingVariant};
use crate::{BuildError, BuildOptions};
use medsins_manifest::{Catalogue, LoadedManifest, Task};

/// A corpus the build will read.
pub struct PlannedCorpus {
    /// The chosen distribution's files, and the manifest as it sees it (its files, its steps
    /// before each task's own): what the corpus's tasks run with.
    pub files: ResolvedCorpus,
    /// Ids of the tasks to build, in manifest order.
    task_ids: Vec<String>,
    /// Built from some of its files: the missing paths and the tasks skipped for them.
    pub partial: Option<Partial>,
}

/// The missing paths of a partly present corpus, and the tasks skipped for them.
pub type Partial = (Vec<String>, Vec<String>);

impl PlannedCorpus {
    /// The manifest the tasks run with (the chosen variant's view).
    pub fn manifest(&self) -> &LoadedManifest {
        &self.files.manifest
    }
    /// The tasks to build, as the chosen variant gives them.
    pub fn tasks(&self) -> Vec<&Task> {
        self.task_ids
            .iter()
            .filter_map(|id| self.files.task(id))
            .collect()
    }
}

/// One task to run: job numbers index [`Plan::jobs`].
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// Position of its corpus in [`Plan::corpora`].
    pub corpus: usize,
    pub manifest: &'a LoadedManifest,
    pub task: &'a Task,
    pub files: &'a ResolvedCorpus,
}

pub struct Plan {
    /// Where the catalogue came from (a folder, or the one bundled with medsins).
    pub catalogue: medsins_manifest::CatalogueSource,
    pub corpora: Vec<PlannedCorpus>,
    /// Corpora left out (excluded, missing, failed to resolve), already reported.
    pub unbuilt: Vec<CorpusReport>,
}

impl Plan {
    /// Every task of every planned corpus, in catalogue order.
    pub fn jobs(&self) -> Vec<Job<'_>> {
        self.corpora
            .iter()
            .enumerate()
            .flat_map(|(corpus, pc)| {
                pc.tasks().into_iter().map(move |task| Job {
                    corpus,
                    manifest: pc.manifest(),
                    task,
                    files: &pc.files,
                })
            })
            .collect()
    }

    /// The jobs (by number) that run as one group because they read the same files.
    pub fn groups(&self) -> Vec<Vec<usize>> {
        let mut groups = Vec::new();
        let mut at = 0usize;
        for pc in &self.corpora {
            let tasks = pc.tasks();
            for g in crate::task::share_groups(pc.manifest(), &tasks) {
                groups.push(g.into_iter().map(|i| at + i).collect::<Vec<usize>>());
            }
            at += tasks.len();
        }
        groups
    }
}

/// Why a corpus is left out by the selection, if it is.
fn excluded(lm: &LoadedManifest, opts: &BuildOptions) -> Option<String> {
    let m = &lm.manifest;
    if let (Some(max), Some(a)) = (opts.selection.access, m.access())
        && a > max
    {
        return Some(format!("access class `{a}` is above --access {max}"));
    }
    let lic = m.corpus.license.to_lowercase();
    opts.selection
        .exclude_licence
        .iter()
        .find(|p| lic.contains(&p.to_lowercase()))
        .map(|p| {
            format!(
                "licence `{}` matches --exclude-licence {p}",
                m.corpus.license
            )
        })
}

fn selected_tasks<'a>(lm: &'a LoadedManifest, only: &[String]) -> Vec<&'a Task> {
    let m = &lm.manifest;
    if only.is_empty() || only.iter().any(|o| o == m.id()) {
        return m.tasks.iter().collect();
    }
    m.tasks
        .iter()
        .filter(|t| only.iter().any(|o| o == t.id.get_ref()))
        .collect()
}

/// A corpus or task id of the selection that is not a plain name (it would name a path
/// outside the raw root or the output) stops the build before anything is read or written.
pub fn check_names(catalogue: &Catalogue, only: &[String]) -> Result<(), BuildError> {
    for lm in &catalogue.manifests {
        if selected_tasks(lm, only).is_empty() {
            continue;
        }
        let m = &lm.manifest;
        let bad_task = m
            .tasks
            .iter()
            .find(|t| medsins_core::task_id_number(t.id.get_ref()).is_none());
        if !medsins_core::is_corpus_id(m.id()) || bad_task.is_some() {
            let name = bad_task.map_or(m.id(), |t| t.id.get_ref().as_str());
            return Err(BuildError::UnsafeName(format!(
                "{}: `{name}` is not a valid id (corpus ids are `[a-z0-9-]+`, task ids `task<N>_[A-Za-z0-9_]+`); ids name folders, so nothing was built; run `medsins validate`",
                lm.display_path()
            )));
        }
    }
    Ok(())
}

/// The tasks of a distribution that can build from the files present: at least one file they
/// read, and every lookup table they join.
fn buildable(s: &Survey, task_ids: &[String]) -> Vec<String> {
    let present = s.present();
    let m = &s.view.manifest;
    m.tasks
        .iter()
        .filter(|t| task_ids.contains(t.id.get_ref()))
        .filter(|t| {
            m.task_files(t)
                .iter()
                .any(|f| present.contains(f.id.get_ref()))
                && m.lookup_file_ids(t)
                    .iter()
                    .all(|l| present.iter().any(|p| p == l))
        })
        .map(|t| t.id.get_ref().clone())
        .collect()
}

/// Selects the corpora and tasks to build and finds their files. A corpus is read from the
/// first distribution (variant) whose files are all present; failing that, from the first with
/// some files present, building the tasks those files allow (a partial build); a file present
/// but unusable (two candidates, wrong checksum) fails the corpus.
pub fn plan(catalogue: &Catalogue, opts: &BuildOptions) -> Plan {
    let mut plan = Plan {
        catalogue: catalogue.source.clone(),
        corpora: Vec::new(),
        unbuilt: Vec::new(),
    };
    for lm in &catalogue.manifests {
        // the tasks as the build's profile renders them (upstream overrides applied)
        let lm = &lm.for_profile(opts.profile);
        let tasks = selected_tasks(lm, &opts.selection.only);
        if tasks.is_empty() {
            continue;
        }
        let id = lm.manifest.id().to_string();
        let task_ids: Vec<String> = tasks.iter().map(|t| t.id.get_ref().clone()).collect();
        if let Some(reason) = excluded(lm, opts) {
            plan.unbuilt.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Excluded { reason },
            });
            continue;
        }
        let failed = |message: String| CorpusReport {
            corpus_id: id.clone(),
            status: CorpusStatus::Failed {
                message,
                tasks: task_ids.clone(),
            },
        };
        let mut surveys = survey_variants(lm, &opts.raw_root, Some(&task_ids));
        let chosen = surveys.iter().position(Survey::complete).or_else(|| {
            surveys
                .iter()
                .position(|s| s.problem().is_some() || !buildable(s, &task_ids).is_empty())
        });
        let Some(i) = chosen else {
            plan.unbuilt.push(missing_report(lm, &surveys, task_ids));
            continue;
        };
        let survey = surveys.swap_remove(i);
        let mut tasks = task_ids.clone();
        let (mut only, mut partial) = (None, None);
        if !survey.complete() && survey.problem().is_none() {
            let can = buildable(&survey, &task_ids);
            let skipped: Vec<String> = task_ids
                .iter()
                .filter(|t| !can.contains(t))
                .cloned()
                .collect();
            partial = Some((survey.missing(), skipped));
            tasks = can;
            only = Some(survey.present());
        }
        match survey.resolve(&opts.raw_root, only.as_deref(), opts.checksums) {
            Resolution::Ready(mut files) => {
                files.limits = opts.limits;
                plan.corpora.push(PlannedCorpus {
                    files: *files,
                    task_ids: tasks,
                    partial,
                })
            }
            Resolution::Failed(e) => plan.unbuilt.push(failed(e.to_string())),
            Resolution::Missing(paths) => plan.unbuilt.push(failed(format!(
                "raw files vanished while the build started: {}",
                paths.join(", ")
            ))),
        }
    }
    plan
}

/// The report of a corpus none of whose distributions is present: every accepted variant
/// with its paths and how to obtain it.
fn missing_report(lm: &LoadedManifest, surveys: &[Survey], tasks: Vec<String>) -> CorpusReport {
    let m = &lm.manifest;
    let alternatives: Vec<MissingVariant> = if m.variants.is_empty() {
        Vec::new()
    } else {
        surveys
            .iter()
            .filter_map(|s| {
                let v = m.variant(s.view.variant_id())?;
                Some(MissingVariant {
                    variant: v.id.get_ref().clone(),
                    name: v.name.clone(),
                    paths: s.missing(),
                    obtain: v.obtain.clone(),
                })
            })
            .collect()
    };
    let first = surveys.first();
    CorpusReport {
        corpus_id: m.id().to_string(),
        status: CorpusStatus::Missing {
            paths: first.map(Survey::missing).unwrap_or_default(),
            homepage: m.corpus.homepage.clone(),
            access: m.corpus.access.get_ref().clone(),
            obtain: m.corpus.obtain.clone(),
            alternatives,
            tasks,
        },
    }
}
