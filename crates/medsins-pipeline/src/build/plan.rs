//! Phase 1, plan: which corpora and tasks the build covers, which raw files they read (found
//! and checksummed), and the jobs (one per task) grouped by the files they share.

use crate::corpus::{Resolution, ResolvedCorpus, raw_rel_path, resolve_corpus};
use crate::report::{CorpusReport, CorpusStatus};
use crate::{BuildError, BuildOptions};
use medsins_manifest::{Catalogue, LoadedManifest, Task};

/// A corpus the build will read.
pub struct PlannedCorpus<'a> {
    pub manifest: &'a LoadedManifest,
    pub tasks: Vec<&'a Task>,
    pub files: ResolvedCorpus,
    /// Built from some of its files: the missing paths and the tasks skipped for them.
    pub partial: Option<Partial>,
}

/// The missing paths of a partly present corpus, and the tasks skipped for them.
pub type Partial = (Vec<String>, Vec<String>);

/// One task to run: job numbers index [`Plan::jobs`].
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// Position of its corpus in [`Plan::corpora`].
    pub corpus: usize,
    pub manifest: &'a LoadedManifest,
    pub task: &'a Task,
    pub files: &'a ResolvedCorpus,
}

pub struct Plan<'a> {
    /// Where the catalogue came from (a folder, or the one bundled with medsins).
    pub catalogue: &'a medsins_manifest::CatalogueSource,
    pub corpora: Vec<PlannedCorpus<'a>>,
    /// Corpora left out (excluded, missing, failed to resolve), already reported.
    pub unbuilt: Vec<CorpusReport>,
}

impl<'a> Plan<'a> {
    /// Every task of every planned corpus, in catalogue order.
    pub fn jobs(&'a self) -> Vec<Job<'a>> {
        self.corpora
            .iter()
            .enumerate()
            .flat_map(|(corpus, pc)| {
                pc.tasks.iter().map(move |task| Job {
                    corpus,
                    manifest: pc.manifest,
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
            for g in crate::task::share_groups(pc.manifest, &pc.tasks) {
                groups.push(g.into_iter().map(|i| at + i).collect::<Vec<usize>>());
            }
            at += pc.tasks.len();
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

/// A corpus or task id that is not a plain name (it would name a path outside the raw root
/// or the output) stops the build before anything is read or written.
pub fn check_names(catalogue: &Catalogue) -> Result<(), BuildError> {
    for lm in &catalogue.manifests {
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

/// Plans the build of `catalogue` under `opts`.
pub fn plan<'a>(catalogue: &'a Catalogue, opts: &BuildOptions) -> Plan<'a> {
    let mut plan = Plan {
        catalogue: &catalogue.source,
        corpora: Vec::new(),
        unbuilt: Vec::new(),
    };
    for lm in &catalogue.manifests {
        let tasks = selected_tasks(lm, &opts.selection.only);
        if tasks.is_empty() {
            continue;
        }
        let id = lm.manifest.id().to_string();
        if let Some(reason) = excluded(lm, opts) {
            plan.unbuilt.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Excluded { reason },
            });
            continue;
        }
        let task_ids: Vec<String> = tasks.iter().map(|t| t.id.get_ref().clone()).collect();
        let (tasks, resolution, partial) = resolve_tasks(lm, tasks, opts);
        match resolution {
            Resolution::Ready(mut files) => {
                files.limits = opts.limits;
                plan.corpora.push(PlannedCorpus {
                    manifest: lm,
                    tasks,
                    files,
                    partial,
                })
            }
            Resolution::Missing(paths) => plan.unbuilt.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Missing {
                    paths,
                    homepage: lm.manifest.corpus.homepage.clone(),
                    access: lm.manifest.corpus.access.get_ref().clone(),
                    obtain: lm.manifest.corpus.obtain.clone(),
                    tasks: task_ids,
                },
            }),
            Resolution::Failed(message) => plan.unbuilt.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Failed {
                    message,
                    tasks: task_ids,
                },
            }),
        }
    }
    plan
}

/// Resolves the files of a corpus's selected tasks. With some files present and some missing
/// (e.g. only a corpus's test split at hand), the tasks whose files are there are kept and the
/// rest reported (a partial build, exit 3).
fn resolve_tasks<'a>(
    lm: &'a LoadedManifest,
    tasks: Vec<&'a Task>,
    opts: &BuildOptions,
) -> (Vec<&'a Task>, Resolution, Option<Partial>) {
    let m = &lm.manifest;
    let file_ids: Vec<String> = tasks.iter().flat_map(|t| m.needed_file_ids(t)).collect();
    let resolution = resolve_corpus(lm, &opts.raw_root, Some(&file_ids), opts.checksums);
    let Resolution::Missing(paths) = &resolution else {
        return (tasks, resolution, None);
    };
    let present: Vec<String> = file_ids
        .iter()
        .filter(|id| {
            m.file(id)
                .is_some_and(|f| opts.raw_root.join(raw_rel_path(m.id(), f)).exists())
        })
        .cloned()
        .collect();
    let (buildable, skipped): (Vec<&Task>, Vec<&Task>) = tasks.iter().partition(|t| {
        m.task_files(t)
            .iter()
            .any(|f| present.contains(f.id.get_ref()))
            && m.lookup_file_ids(t)
                .iter()
                .all(|l| present.iter().any(|p| p == l))
    });
    if buildable.is_empty() {
        return (tasks, resolution, None);
    }
    let skipped = skipped.iter().map(|t| t.id.get_ref().clone()).collect();
    let partial = Some((paths.clone(), skipped));
    let resolution = resolve_corpus(lm, &opts.raw_root, Some(&present), opts.checksums);
    (buildable, resolution, partial)
}
