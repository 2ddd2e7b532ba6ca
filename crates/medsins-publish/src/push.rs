//! `medsins push <out> --repo ORG/NAME`: uploads a build to a Hugging Face dataset repository
//! with `huggingface_hub`'s folder upload, run as a Python subprocess.
//!
//! Before anything is sent: the directory must match its `SHA256SUMS`, and a build holding
//! registration-only or credentialed rows (their terms forbid redistribution) is refused
//! unless the push makes the repository private and gated (`--private --gated auto|manual`);
//! the Python side checks the repository's settings again after applying them and uploads
//! nothing when they do not hold. `--dry-run` stops after these checks and lists what would
//! be sent.

use crate::{BuildDir, PublishError};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Access requests of a gated repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Requests are accepted automatically (users still agree to the terms and share contact
    /// details).
    Auto,
    /// Every request is reviewed by the repository's owners.
    Manual,
}

impl Gate {
    pub fn parse(s: &str) -> Option<Gate> {
        match s {
            "auto" => Some(Gate::Auto),
            "manual" => Some(Gate::Manual),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Auto => "auto",
            Gate::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// `ORG/NAME` of the dataset repository (created when missing).
    pub repo: String,
    pub private: bool,
    pub gated: Option<Gate>,
    pub dry_run: bool,
    /// The Python interpreter that has `huggingface_hub` (default `python3`).
    pub python: String,
    pub commit_message: String,
}

/// What a push sends, and where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PushPlan {
    pub repo: String,
    pub private: bool,
    pub gated: Option<&'static str>,
    /// Rows per restricted access class (registration, credentialed).
    pub restricted: BTreeMap<String, u64>,
    /// `(path relative to the output, bytes)`, sorted.
    pub files: Vec<(String, u64)>,
    pub bytes: u64,
    /// false for `--dry-run`.
    pub uploaded: bool,
}

fn valid_repo(repo: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && !p.starts_with(['-', '.'])
            && !p.ends_with('.')
            && !p.contains("..")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    matches!(repo.split_once('/'), Some((org, name)) if ok(org) && ok(name))
}

/// Checks a push and lists what it would send, without sending anything.
pub fn plan(dir: &BuildDir, opts: &PushOptions) -> Result<PushPlan, PublishError> {
    if !valid_repo(&opts.repo) {
        return Err(PublishError::Invalid(format!(
            "--repo `{}`: give the dataset repository as ORG/NAME (letters, digits, `-`, `_`, `.`), e.g. my-lab/meds-ins",
            opts.repo
        )));
    }
    let problems = medsins_output::verify_checksums(&dir.path)?;
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
        return Err(PublishError::Refused(format!(
            "{}: {} file(s) do not match SHA256SUMS ({}{}); rebuild, or run `medsins verify {}`, before publishing",
            dir.path.display(),
            problems.len(),
            list.join("; "),
            if problems.len() > 5 { "; …" } else { "" },
            dir.path.display()
        )));
    }
    let restricted = dir.restricted_rows();
    let shielded = opts.private && opts.gated.is_some();
    if !restricted.is_empty() && !shielded {
        let rows: Vec<String> = restricted.iter().map(|(a, n)| format!("{n} {a}")).collect();
        return Err(PublishError::Refused(format!(
            "{} holds rows whose terms forbid redistribution ({} rows); nothing was sent. Publish it only to a private, gated repository (--private --gated manual), or rebuild with --access public for a shareable dataset",
            dir.path.display(),
            rows.join(", ")
        )));
    }
    let mut files = Vec::new();
    let listed = medsins_output::list_files(&dir.path)?;
    for f in listed
        .into_iter()
        .chain([medsins_output::CHECKSUMS_FILE.to_string()])
    {
        let p = dir.path.join(&f);
        let size = std::fs::metadata(&p).map_err(crate::io_err(&p))?.len();
        files.push((f, size));
    }
    files.sort();
    Ok(PushPlan {
        repo: opts.repo.clone(),
        private: opts.private,
        gated: opts.gated.map(Gate::as_str),
        bytes: files.iter().map(|f| f.1).sum(),
        restricted,
        files,
        uploaded: false,
    })
}

/// The Python side: create the repository, apply privacy and gating, check them when the
/// build is restricted, then upload the listed files in one commit. Reads the plan as JSON on
/// standard input.
const UPLOAD_PY: &str = r#"
import json, sys
from huggingface_hub import HfApi
p = json.load(sys.stdin)
api = HfApi()
api.create_repo(p["repo"], repo_type="dataset", private=p["private"], exist_ok=True)
if p["private"] or p["gated"]:
    api.update_repo_settings(p["repo"], repo_type="dataset", private=p["private"] or None, gated=p["gated"] or None)
if p["restricted"]:
    info = api.repo_info(p["repo"], repo_type="dataset")
    if not (info.private and info.gated):
        sys.exit("medsins push: %s is not private and gated (private=%s, gated=%s); nothing was uploaded" % (p["repo"], info.private, info.gated))
c = api.upload_folder(repo_id=p["repo"], repo_type="dataset", folder_path=p["folder"], allow_patterns=p["files"], commit_message=p["message"])
print(getattr(c, "commit_url", c))
"#;

/// Checks, then (unless `dry_run`) uploads. Fails with a clear message when the interpreter
/// or `huggingface_hub` is missing.
pub fn push(dir: &BuildDir, opts: &PushOptions) -> Result<PushPlan, PublishError> {
    let mut plan = plan(dir, opts)?;
    if opts.dry_run {
        return Ok(plan);
    }
    let probe = Command::new(&opts.python)
        .args(["-c", "import huggingface_hub"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| {
            PublishError::Refused(format!(
                "cannot run `{}` ({e}): medsins push uploads through Python's huggingface_hub; install Python 3 or name the interpreter with --python",
                opts.python
            ))
        })?;
    if !probe.success() {
        return Err(PublishError::Refused(format!(
            "huggingface_hub is not installed for `{}`: run `{} -m pip install huggingface_hub`, log in (`hf auth login`, or set HF_TOKEN), then push again; nothing was sent",
            opts.python, opts.python
        )));
    }
    let folder = dir.path.canonicalize().map_err(crate::io_err(&dir.path))?;
    let input = serde_json::json!({
        "repo": plan.repo,
        "private": plan.private,
        "gated": plan.gated,
        "restricted": !plan.restricted.is_empty(),
        "folder": folder,
        "files": plan.files.iter().map(|f| &f.0).collect::<Vec<_>>(),
        "message": opts.commit_message,
    });
    let mut child = Command::new(&opts.python)
        .args(["-c", UPLOAD_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PublishError::Refused(format!("cannot run `{}`: {e}", opts.python)))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.to_string().as_bytes())
            .map_err(|e| PublishError::Refused(format!("`{}`: {e}", opts.python)))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| PublishError::Refused(format!("`{}`: {e}", opts.python)))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(PublishError::Refused(format!(
            "the upload to {} failed: {last}",
            plan.repo
        )));
    }
    plan.uploaded = true;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_ids() {
        assert!(valid_repo("my-lab/meds-ins"));
        assert!(valid_repo("a/b.v2"));
        for bad in ["meds-ins", "a/b/c", "/b", "a/", "a/-b", "a/b..c", "a/b c"] {
            assert!(!valid_repo(bad), "{bad}");
        }
    }
}
