//! `medsins build-unit <unit> --cache DIR`: computes one unit of a build into the cache, in a
//! process of its own (docs/scale-out.md).

use crate::cmd_build;
use crate::output::Format;
use anyhow::Context;

#[derive(clap::Args)]
// the build options are a group of their own
#[group(skip)]
pub struct Args {
    /// The unit, as `medsins plan` names it: `<corpus>/<first task>`.
    unit: String,
    /// The build's options, as `medsins build` takes them; --cache is required.
    #[command(flatten)]
    build: cmd_build::Args,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let cache = a
        .build
        .cache
        .clone()
        .context("build-unit needs --cache DIR: the unit is computed into it")?;
    let p = cmd_build::prepare(&a.build)?;
    let built = cmd_build::pool(a.build.jobs)?
        .install(|| medsins_pipeline::build_unit(&p.catalogue, &p.opts, &cache, &a.unit))?;
    if a.build.format == Format::Json {
        crate::output::print_json(&built)?;
    } else if built.already_cached {
        outln!("{} is in {} already", built.unit, cache.display());
    } else {
        outln!(
            "computed {} ({} task(s)) into {} in {:.1} s",
            built.unit,
            built.tasks.len(),
            cache.display(),
            built.seconds
        );
    }
    Ok(0)
}
