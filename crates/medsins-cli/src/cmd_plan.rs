//! `medsins plan`: the units of a build, largest first, with their cost and cache key — what a
//! scheduler hands to `medsins build-unit` (docs/scale-out.md).

use crate::cmd_build;
use crate::output::Format;

#[derive(clap::Args)]
// the build options are a group of their own
#[group(skip)]
pub struct Args {
    /// The build's options, as `medsins build` takes them (a scheduler passes the same ones to
    /// `plan`, `build-unit` and `build --cached-only`); with --cache, says which units it holds.
    #[command(flatten)]
    build: cmd_build::Args,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let p = cmd_build::prepare(&a.build)?;
    let plan = cmd_build::pool(a.build.jobs)?.install(|| {
        medsins_pipeline::plan_units(&p.catalogue, &p.opts, a.build.cache.as_deref())
    })?;
    if a.build.format == Format::Json {
        crate::output::print_json(&plan)?;
        return Ok(0);
    }
    outln!(
        "{:<64} {:>5} {:>10} {:>4} {:>7}",
        "unit",
        "tasks",
        "raw bytes",
        "cpus",
        "cached"
    );
    for u in &plan.units {
        let cached = match u.cached {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        outln!(
            "{:<64} {:>5} {:>10} {:>4} {:>7}",
            u.id,
            u.tasks.len(),
            u.raw_bytes,
            u.cpus,
            cached
        );
    }
    let cached = plan.units.iter().filter(|u| u.cached == Some(true)).count();
    outln!(
        "{} unit(s), largest first{}; catalogue: {}",
        plan.units.len(),
        match a.build.cache {
            Some(_) => format!(", {cached} in the cache"),
            None => String::new(),
        },
        plan.catalogue
    );
    for c in &plan.not_built {
        let status = serde_json::to_value(&c.status)?;
        let what = status["status"].as_str().unwrap_or_default().to_string();
        errln!("not built {}: {what}", c.corpus_id);
    }
    Ok(0)
}
