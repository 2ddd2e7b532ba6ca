//! How far a build is: a bar on a terminal; elsewhere (CI logs, `nohup`), a log line when a
//! phase starts and at most every [`LINE_EVERY`] within one; nothing with `-q`.

use crate::Verbosity;
use medsins_pipeline::Progress;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The log target of progress lines (shown at the default verbosity).
pub const LOG_TARGET: &str = "medsins::progress";
const LINE_EVERY: Duration = Duration::from_secs(10);

/// What a phase of the build is called for a person; phases other than `tasks` are single
/// steps (the pipeline reports them as `0/1`), shown without counts.
fn phase_label(phase: &str) -> &str {
    match phase {
        "tasks" => "tasks built",
        "leakage" => "checking leakage across tasks",
        "writing" => "writing shards and ledger",
        other => other,
    }
}

/// A phase with counts worth showing (more than one step).
fn counted(total: u64) -> bool {
    total > 1
}

pub enum Reporter {
    Bar(indicatif::ProgressBar),
    Lines,
    Silent,
}

impl Reporter {
    pub fn new(v: Verbosity, what: &str) -> Reporter {
        if v == Verbosity::Quiet {
            return Reporter::Silent;
        }
        if !std::io::stderr().is_terminal() {
            log::info!(target: LOG_TARGET, "{what}");
            return Reporter::Lines;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Reporter::Bar(bar)
    }

    /// The callback the pipeline reports to.
    pub fn progress(&self) -> Option<Progress> {
        match self {
            Reporter::Silent => None,
            Reporter::Bar(bar) => {
                let bar = bar.clone();
                let counting = style(true);
                let single = style(false);
                Some(Progress(Arc::new(
                    move |phase: &str, done: u64, total: u64| {
                        if counted(total) {
                            bar.set_style(counting.clone());
                            // length and position together, so no frame shows one without the other
                            bar.update(|s| {
                                s.set_len(total);
                                s.set_pos(done.min(total));
                            });
                        } else {
                            bar.set_style(single.clone());
                        }
                        bar.set_message(phase_label(phase).to_string());
                    },
                )))
            }
            Reporter::Lines => {
                let last: Mutex<Option<(String, Instant)>> = Mutex::new(None);
                let started = Instant::now();
                Some(Progress(Arc::new(
                    move |phase: &str, done: u64, total: u64| {
                        let Ok(mut last) = last.lock() else { return };
                        let new_phase = last.as_ref().is_none_or(|(p, _)| p != phase);
                        let due = last.as_ref().is_none_or(|(_, t)| t.elapsed() >= LINE_EVERY);
                        if !(new_phase || due || (counted(total) && done == total)) {
                            return;
                        }
                        let secs = started.elapsed().as_secs();
                        if counted(total) {
                            log::info!(target: LOG_TARGET, "{} {done}/{total} ({secs} s)", phase_label(phase));
                        } else {
                            log::info!(target: LOG_TARGET, "{} ({secs} s)", phase_label(phase));
                        }
                        *last = Some((phase.to_string(), Instant::now()));
                    },
                )))
            }
        }
    }

    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn style(with_counts: bool) -> indicatif::ProgressStyle {
    let template = if with_counts {
        "{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}"
    } else {
        "{spinner} {msg} {elapsed}"
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
        .progress_chars("=> ")
}
