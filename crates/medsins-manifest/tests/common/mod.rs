//! What the manifest tests share: a manifest text parsed as a named file, and the problems the
//! meaning checks find in it, each as `file:line:col: message`.

use medsins_manifest::{LoadedManifest, check_catalogue};
use std::path::Path;

/// `text` parsed as the manifest file `file`; a text that does not parse fails the test with
/// its diagnostic.
pub fn parse(file: &str, text: &str) -> LoadedManifest {
    LoadedManifest::parse(Path::new(file), text.to_string()).unwrap_or_else(|d| panic!("{d}"))
}

/// Every problem of `text` (as the manifest file `file`), one line each, in report order.
pub fn problems(file: &str, text: &str) -> Vec<String> {
    check_catalogue(&[parse(file, text)])
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}
