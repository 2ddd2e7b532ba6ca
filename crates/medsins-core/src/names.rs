//! The shapes of the names that become paths: a corpus id names a folder of the raw root and a
//! manifest file, a task id a folder of the output. Both are checked when a manifest is
//! validated and again before anything is written, so no manifest can make a build write
//! outside its output folder.

/// `[a-z0-9-]+`, not starting with `-` (e.g. `mimic-iv-radiology`).
pub fn is_corpus_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
}

/// `task<N>_[A-Za-z0-9_]+`, as all 122 upstream task ids are (e.g.
/// `task114_medqsum_text_summurization`); returns `N`.
pub fn task_id_number(s: &str) -> Option<u32> {
    let rest = s.strip_prefix("task")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let name = rest[digits..].strip_prefix('_')?;
    let ok = digits > 0
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        rest[..digits].parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_become_paths_have_one_shape() {
        assert_eq!(
            task_id_number("task114_medqsum_text_summurization"),
            Some(114)
        );
        assert_eq!(task_id_number("task1_X9"), Some(1));
        for bad in [
            "task137_../../../../x",
            "task137_a/b",
            "task137_",
            "task_x",
            "taskx_1",
            "task12_a b",
            "task12_é",
            "task12_a.b",
            "",
        ] {
            assert_eq!(task_id_number(bad), None, "{bad}");
        }
        assert!(is_corpus_id("mimic-iv-radiology") && is_corpus_id("bc5cdr"));
        for bad in ["", "-x", "A", "a_b", "a/b", "..", "a."] {
            assert!(!is_corpus_id(bad), "{bad}");
        }
    }
}
