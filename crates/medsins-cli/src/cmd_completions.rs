//! `medsins completions <shell>`: the shell's completion script, on standard output.

#[derive(clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "medsins", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(0)
}
