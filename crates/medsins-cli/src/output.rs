//! Printing that behaves like a Unix tool: when the reader of standard output goes away
//! (`medsins list | head -1`), the rest of the output is dropped quietly and the command
//! finishes with its own exit code; a failure to write for any other reason (a full disk)
//! is an error. Nothing here panics, unlike `println!`.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reader of standard output has gone: stop writing to it.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error other than a closed pipe.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Output format of commands a script may read.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Default, Debug)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Prints to standard output (see the module doc).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// Prints a line to standard output (see the module doc).
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line to standard error; a closed standard error is ignored (nothing could say so).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        failed(e);
    }
}

pub(crate) fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

fn failed(e: std::io::Error) {
    CLOSED.store(true, Ordering::Relaxed);
    if e.kind() != std::io::ErrorKind::BrokenPipe
        && let Ok(mut f) = FAILED.lock()
    {
        f.get_or_insert_with(|| e.to_string());
    }
}

/// Prints a value as pretty JSON and a newline.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Flushes standard output and returns the exit code: `code`, or 1 when the output could not
/// be written for a reason other than a closed pipe.
pub(crate) fn finish(code: i32) -> i32 {
    if !CLOSED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().lock().flush()
    {
        failed(e);
    }
    match FAILED.lock().ok().and_then(|f| f.clone()) {
        Some(e) => {
            errln!("error: writing to standard output: {e}");
            if code == 0 { 1 } else { code }
        }
        None => code,
    }
}
