//! File-name patterns in a raw file's `path`, and the natural order files are read in.
//!
//! A path is `/`-separated segments. A segment may be a pattern: `*` (any characters but `/`),
//! `?` (one character), `[abc]` / `[a-z]` / `[!abc]` (one character of a class), `{a,b}` (one
//! of the alternatives, each itself a pattern without `/`). A segment that is exactly `**`
//! stands for any number of folders, none included. Names are compared case-sensitively.

use regex::Regex;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// What is wrong with a pattern segment of a `path` (the segment is named; the manifest check
/// adds where it is).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PatternError {
    #[error("`**` must be a whole path segment (`a/**/b`), not part of `{0}`")]
    AnyDepthInsideSegment(String),
    #[error("`[` without a closing `]` in `{0}`")]
    UnclosedClass(String),
    #[error("`{{` without a closing `}}` in `{0}`")]
    UnclosedBrace(String),
    #[error("`}}` without an opening `{{` in `{0}`")]
    UnopenedBrace(String),
    #[error("`{segment}` is not a valid pattern: {source}")]
    Invalid {
        segment: String,
        source: regex::Error,
    },
}

/// A folder that cannot be listed while looking for raw files: nothing in it may be skipped
/// silently (a file that is there but unreadable is not a missing file).
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error(
        "{}: cannot list this folder ({source}); make it a readable folder (check its permissions and any symbolic link leading to it)",
        .dir.display()
    )]
    Unreadable {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: cannot examine this path ({source}); fix its permissions or the symbolic link it goes through",
        .path.display()
    )]
    Inaccessible {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: the name `{name}` is not valid UTF-8; rename it (the names of raw files and of the folders holding them must be UTF-8)",
        .dir.display()
    )]
    NotUtf8 { dir: PathBuf, name: String },
}

/// One `/`-separated part of a path.
#[derive(Debug, Clone)]
pub enum Segment {
    /// A plain name.
    Literal(String),
    /// A name pattern, anchored at both ends.
    Pattern(Regex),
    /// `**`: zero or more folders.
    AnyDepth,
}

impl Segment {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Segment::Literal(l) => l == name,
            Segment::Pattern(r) => r.is_match(name),
            Segment::AnyDepth => true,
        }
    }
}

/// A parsed `path`.
#[derive(Debug, Clone)]
pub struct PathPattern {
    pub segments: Vec<Segment>,
}

/// Whether `path` uses any pattern syntax (and so may name a file whose name changes between
/// releases, or several files).
pub fn is_pattern(path: &str) -> bool {
    path.contains(['*', '?', '[', '{'])
}

impl PathPattern {
    /// Parses a contained relative path (see [`crate::is_contained_path`]); the error says what
    /// is wrong with the pattern.
    pub fn parse(path: &str) -> Result<PathPattern, PatternError> {
        let segments = path
            .split('/')
            .map(|s| {
                if s == "**" {
                    Ok(Segment::AnyDepth)
                } else if is_pattern(s) {
                    segment_regex(s).map(Segment::Pattern)
                } else {
                    Ok(Segment::Literal(s.to_string()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PathPattern { segments })
    }
}

impl PathPattern {
    /// Every path under `dir` the pattern matches (files or folders), relative to `dir`, with
    /// where it is; symbolic links are not followed. A folder on the way that cannot be listed
    /// is an error, never a file that is not there.
    pub fn find(&self, dir: &Path) -> Result<Vec<(String, PathBuf)>, ListingError> {
        let mut out = Vec::new();
        expand(dir, &self.segments, "", &mut out)?;
        Ok(out)
    }
}

impl PathPattern {
    /// Whether a `/`-separated relative path that is not on disk (a member of a zip archive)
    /// matches the pattern, segment by segment, `**` standing for any number of folders.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        matches_parts(&self.segments, &parts)
    }
}

fn matches_parts(segs: &[Segment], parts: &[&str]) -> bool {
    match segs.split_first() {
        None => parts.is_empty(),
        Some((Segment::AnyDepth, rest)) => {
            (0..=parts.len()).any(|skip| matches_parts(rest, &parts[skip..]))
        }
        Some((seg, rest)) => parts
            .split_first()
            .is_some_and(|(first, others)| seg.matches(first) && matches_parts(rest, others)),
    }
}

/// Entries of `dir` that are not symbolic links (a pattern never leads through a link), as
/// (name, path, is a folder), sorted by name. A folder that does not exist has none; one that
/// cannot be listed, an entry that cannot be read or a name that is not UTF-8 (patterns and
/// locators compare names as text) is an error naming the folder.
pub fn listing(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, ListingError> {
    let unreadable = |source| ListingError::Unreadable {
        dir: dir.to_path_buf(),
        source,
    };
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(unreadable(e)),
    };
    let mut v: Vec<(String, PathBuf, bool)> = Vec::new();
    for e in rd {
        let e = e.map_err(unreadable)?;
        let ft = e.file_type().map_err(unreadable)?;
        if ft.is_symlink() {
            continue;
        }
        let name = e
            .file_name()
            .into_string()
            .map_err(|n| ListingError::NotUtf8 {
                dir: dir.to_path_buf(),
                name: n.to_string_lossy().into_owned(),
            })?;
        v.push((name, e.path(), ft.is_dir()));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// Every path under `dir` matching `segs`, relative to `dir`.
fn expand(
    dir: &Path,
    segs: &[Segment],
    rel: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), ListingError> {
    let Some((seg, rest)) = segs.split_first() else {
        out.push((rel.to_string(), dir.to_path_buf()));
        return Ok(());
    };
    let join = |name: &str| {
        if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        }
    };
    match seg {
        Segment::Literal(name) => {
            let p = dir.join(name);
            let exists = p
                .try_exists()
                .map_err(|source| ListingError::Inaccessible {
                    path: p.clone(),
                    source,
                })?;
            if exists && (rest.is_empty() || p.is_dir()) {
                expand(&p, rest, &join(name), out)?;
            }
        }
        Segment::Pattern(_) => {
            for (name, p, is_dir) in listing(dir)? {
                if seg.matches(&name) && (rest.is_empty() || is_dir) {
                    expand(&p, rest, &join(&name), out)?;
                }
            }
        }
        Segment::AnyDepth => {
            expand(dir, rest, rel, out)?;
            for (name, p, is_dir) in listing(dir)? {
                if is_dir {
                    expand(&p, segs, &join(&name), out)?;
                }
            }
        }
    }
    Ok(())
}

/// The anchored regular expression of one pattern segment.
fn segment_regex(seg: &str) -> Result<Regex, PatternError> {
    let mut re = String::from("^(?:");
    let mut chars = seg.chars().peekable();
    let mut braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                return Err(PatternError::AnyDepthInsideSegment(seg.to_string()));
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                let mut closed = false;
                let mut first = true;
                for d in chars.by_ref() {
                    if d == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if d == '\\' || d == '[' || d == '&' || d == '~' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                if !closed {
                    return Err(PatternError::UnclosedClass(seg.to_string()));
                }
                class.push(']');
                re.push_str(&class);
            }
            '{' => {
                braces += 1;
                re.push_str("(?:");
            }
            ',' if braces > 0 => re.push('|'),
            '}' if braces > 0 => {
                braces -= 1;
                re.push(')');
            }
            '}' => return Err(PatternError::UnopenedBrace(seg.to_string())),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    if braces > 0 {
        return Err(PatternError::UnclosedBrace(seg.to_string()));
    }
    re.push_str(")$");
    Regex::new(&re).map_err(|source| PatternError::Invalid {
        segment: seg.to_string(),
        source,
    })
}

/// Natural order: runs of ASCII digits compare as numbers (`9` < `10` < `12`), everything else
/// character by character; ties (`7` against `007`) fall back to plain text order, so the order
/// is total and deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.len() - x.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let m = y.len() - y.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (p, q) = (
                    x[..n].trim_start_matches('0'),
                    y[..m].trim_start_matches('0'),
                );
                let ord = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (&x[n..], &y[m..]);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                (x, y) = (&x[c.len_utf8()..], &y[d.len_utf8()..]);
            }
        }
    }
}

/// The key `order_by` gives a file: the groups its regular expression captures in the file's
/// name (an unmatched or absent group is empty), compared naturally one after the other.
pub fn release_key(order_by: &Regex, name: &str) -> Vec<String> {
    match order_by.captures(name) {
        Some(c) => (1..c.len())
            .map(|i| c.get(i).map(|m| m.as_str().to_string()).unwrap_or_default())
            .collect(),
        None => Vec::new(),
    }
}

/// Compares two `release_key`s group by group in natural order; a file whose name the
/// expression does not match (empty key) sorts first.
pub fn release_cmp(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = natural_cmp(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, name: &str) -> bool {
        PathPattern::parse(p).unwrap().segments[0].matches(name)
    }

    #[test]
    fn segment_patterns() {
        assert!(m("*_golden.json", "10B1_golden.json"));
        assert!(!m("*_golden.json", "10B1_golden.json.bak"));
        assert!(m("*-?.jsonl", "112-A.jsonl"));
        assert!(!m("*-?.jsonl", "112-A_metadata.jsonl"));
        assert!(m("[0-9]*_*", "8_NHLBI_QA_XML"));
        assert!(!m("[0-9]*_*", "readme.txt"));
        assert!(m("[!r]*", "x"));
        assert!(!m("[!r]*", "readme"));
        assert!(m("{*train*b.json,*_golden.json}", "trainining7b.json"));
        assert!(m("{*train*b.json,*_golden.json}", "9B5_golden.json"));
        assert!(!m("{*train*b.json,*_golden.json}", "readme.md"));
        assert!(m("a.b", "a.b") && !m("a?b", "a/b"));
        assert!(matches!(
            PathPattern::parse("x/**/y").unwrap().segments[1],
            Segment::AnyDepth
        ));
    }

    #[test]
    fn paths_not_on_disk_match_segment_by_segment() {
        let p = |s: &str| PathPattern::parse(s).unwrap();
        assert!(p("*/HEAD_EN.json").matches("HEAD_EN/HEAD_EN.json"));
        assert!(!p("*/HEAD_EN.json").matches("HEAD_EN.json"));
        assert!(!p("*/HEAD_EN.json").matches("a/HEAD_EN/HEAD_EN.json"));
        assert!(p("**/train_HEAD.json").matches("train_HEAD.json"));
        assert!(p("**/train_HEAD.json").matches("head-qa/HEAD/train_HEAD.json"));
        assert!(!p("**/train_HEAD.json").matches("HEAD/train_HEAD_EN.json"));
        assert!(p("HEAD/{train,dev}_HEAD.json").matches("HEAD/dev_HEAD.json"));
        assert!(!p("HEAD/{train,dev}_HEAD.json").matches("HEAD/test_HEAD.json"));
        assert!(p("data/questions/US/test.jsonl").matches("data/questions/US/test.jsonl"));
        assert!(!p("data/questions/US/test.jsonl").matches("data/questions/US/"));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(
            PathPattern::parse("data/[ab.json").unwrap_err().to_string(),
            "`[` without a closing `]` in `[ab.json`"
        );
        assert_eq!(
            PathPattern::parse("{a,b.json").unwrap_err().to_string(),
            "`{` without a closing `}` in `{a,b.json`"
        );
        assert_eq!(
            PathPattern::parse("a**.json").unwrap_err().to_string(),
            "`**` must be a whole path segment (`a/**/b`), not part of `a**.json`"
        );
    }

    #[test]
    fn a_folder_that_cannot_be_listed_is_an_error_not_a_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        // a symbolic link to itself: unreadable for root too
        let corpus = tmp.path().join("c");
        std::os::unix::fs::symlink(&corpus, &corpus).unwrap();
        let err = listing(&corpus).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: cannot list this folder (Too many levels of symbolic links",
                corpus.display()
            )),
            "{err}"
        );
        assert!(
            err.ends_with("make it a readable folder (check its permissions and any symbolic link leading to it)"),
            "{err}"
        );
        let literal = PathPattern::parse("c/data.json").unwrap();
        let err = literal.find(tmp.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: cannot examine this path (Too many levels of symbolic links",
                corpus.display()
            )),
            "{err}"
        );
        // a folder that is not there has no entries (its files are reported missing)
        assert!(listing(&tmp.path().join("absent")).unwrap().is_empty());
    }

    #[test]
    fn a_name_that_is_not_utf8_is_named_with_the_fix() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.json"), "{}").unwrap();
        std::fs::write(
            tmp.path().join(std::ffi::OsStr::from_bytes(b"b\xff.json")),
            "{}",
        )
        .unwrap();
        let err = PathPattern::parse("*.json")
            .unwrap()
            .find(tmp.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: the name `b\u{FFFD}.json` is not valid UTF-8; rename it (the names of raw files and of the folders holding them must be UTF-8)",
                tmp.path().display()
            )
        );
    }

    #[test]
    fn natural_order() {
        let mut v = vec![
            "12_MPlusHerbsSupplements_QA",
            "1_CancerGov_QA",
            "10_MPlus_ADAM_QA",
            "2_GARD_QA",
            "training12b.json",
            "training8b.json",
            "a007",
            "a7",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "1_CancerGov_QA",
                "2_GARD_QA",
                "10_MPlus_ADAM_QA",
                "12_MPlusHerbsSupplements_QA",
                "a007",
                "a7",
                "training8b.json",
                "training12b.json"
            ]
        );
    }

    #[test]
    fn release_keys_order_bioasq_files_chronologically() {
        let re = Regex::new(r"(\d+)[bB](\d*)").unwrap();
        let mut v = vec![
            "training12b.json",
            "12B1_golden.json",
            "trainining7b.json",
            "11B4_golden.json",
            "training11b.json",
            "BioASQ-trainingDataset6b.json",
        ];
        v.sort_by(|a, b| release_cmp(&release_key(&re, a), &release_key(&re, b)));
        assert_eq!(
            v,
            [
                "BioASQ-trainingDataset6b.json",
                "trainining7b.json",
                "training11b.json",
                "11B4_golden.json",
                "training12b.json",
                "12B1_golden.json"
            ]
        );
    }
}
