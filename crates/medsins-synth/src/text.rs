//! Deterministic text variation: length-preserving word substitutions plus appended sentences.
//! A pure function of (text, variant): equal strings of one record stay equal after variation.

use xxhash_rust::xxh3::xxh3_64_with_seed;

const VOCAB: &[&str] = &[
    "acid",
    "bone",
    "cell",
    "dose",
    "drug",
    "file",
    "gene",
    "lung",
    "mass",
    "pain",
    "rash",
    "risk",
    "scan",
    "skin",
    "test",
    "blood",
    "brain",
    "cause",
    "chest",
    "fever",
    "heart",
    "liver",
    "organ",
    "renal",
    "serum",
    "signs",
    "tumor",
    "virus",
    "airway",
    "cancer",
    "cohort",
    "kidney",
    "lesion",
    "muscle",
    "plasma",
    "tissue",
    "trauma",
    "weight",
    "biopsy",
    "disease",
    "fatigue",
    "patient",
    "protein",
    "symptom",
    "therapy",
    "vaccine",
    "chronic",
    "outcome",
    "lateral",
    "clinical",
    "diabetic",
    "efficacy",
    "evidence",
    "exposure",
    "hospital",
    "infusion",
    "mortality",
    "systemic",
    "diagnosis",
    "infection",
    "pathology",
    "screening",
    "treatment",
    "radiology",
    "physician",
    "admission",
    "antibiotic",
    "prevalence",
    "hemoglobin",
    "prognostic",
    "respiratory",
    "endoscopic",
    "metabolism",
    "inflammation",
    "hypertension",
    "intervention",
    "neurological",
    "surveillance",
    "differential",
];

fn h(s: &str, seed: u64) -> u64 {
    xxh3_64_with_seed(s.as_bytes(), seed)
}

/// A vocabulary word of exactly `len` bytes, chosen by `x`, if there is one.
pub fn word_of_len(len: usize, x: u64) -> Option<&'static str> {
    let n = VOCAB.iter().filter(|w| w.len() == len).count();
    if n == 0 {
        return None;
    }
    VOCAB
        .iter()
        .filter(|w| w.len() == len)
        .nth((x % n as u64) as usize)
        .copied()
}

fn vocab(x: u64) -> &'static str {
    VOCAB[(x % VOCAB.len() as u64) as usize]
}

/// Replaces some lower-case ASCII words of 4+ letters (not part of an `&entity;`) by words of
/// the same length; which ones and by what depends only on (word, variant).
pub fn substitute(s: &str, variant: u64, rate: u64) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let w = &s[start..i];
            let amp = start > 0 && b[start - 1] == b'&';
            if !amp && w.len() >= 4 && w.bytes().all(|c| c.is_ascii_lowercase()) {
                let x = h(w, variant);
                if x.is_multiple_of(rate)
                    && let Some(r) = word_of_len(w.len(), x >> 8)
                {
                    out.push_str(&s[last..start]);
                    out.push_str(r);
                    last = i;
                }
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Sentences made of vocabulary words, 1 to 3 of them, distinct per variant.
pub fn sentences(variant: u64) -> String {
    let n = 1 + variant % 3;
    let mut out = String::new();
    for j in 0..n {
        let len = 8 + h("len", variant ^ j) % 9;
        for k in 0..len {
            let w = vocab(h("w", variant.wrapping_mul(31).wrapping_add(j * 101 + k)));
            if k == 0 {
                let mut c = w.chars();
                out.extend(c.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(c.as_str());
            } else {
                out.push(' ');
                out.push_str(w);
            }
        }
        out.push_str(". ");
    }
    out.pop();
    out
}

/// Whether a string is prose (not a label, code, number, list or literal).
pub fn is_prose(s: &str) -> bool {
    let t = s.trim_start();
    let wide = s
        .chars()
        .filter(|c| c.is_alphabetic() && !c.is_ascii())
        .count();
    if t.starts_with(['[', '{', '(', '<']) || (s.split_whitespace().count() < 5 && wide < 10) {
        return false;
    }
    let total = s.chars().count();
    let plain = s
        .chars()
        .filter(|c| {
            c.is_alphabetic() || c.is_whitespace() || matches!(c, '.' | ',' | '\'' | '-' | '?')
        })
        .count();
    plain * 4 >= total * 3
}

/// The variant of a text: unchanged for variant 0 or non-prose; else substituted words and
/// appended sentences (after the trailing whitespace is set aside, so markup stays put).
pub fn vary(s: &str, variant: u64) -> String {
    if variant == 0 || !is_prose(s) {
        return s.to_string();
    }
    let body = s.trim_end();
    let tail = &s[body.len()..];
    let mut out = substitute(body, variant, 4);
    out.push(' ');
    out.push_str(&sentences(variant));
    out.push_str(tail);
    out
}

/// Numbers in a non-prose table cell: a whole cell of 2–3 digits (ages, sizes, months; never
/// 1-digit flags or long ids) gets another value of the same width, and the fractional digits of
/// decimals (`0.19`, `98.6`; not codes such as `A00.0`) are redrawn. Pure function of
/// (cell, variant).
pub fn perturb_numbers(s: &str, variant: u64) -> String {
    if variant == 0 {
        return s.to_string();
    }
    let b = s.as_bytes();
    if (2..=3).contains(&b.len()) && b.iter().all(|c| c.is_ascii_digit()) {
        let m = 10u64.pow(b.len() as u32);
        let v: u64 = s.parse().unwrap_or(0);
        let x = (v + 1 + h(s, variant) % (m - 1)) % m;
        return format!("{x:0w$}", w = b.len());
    }
    let mut out: Vec<u8> = b.to_vec();
    let mut i = 0;
    let mut k = 0u64;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let code = start > 0 && (b[start - 1].is_ascii_alphabetic() || b[start - 1] == b'_');
            if !code && i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    k += 1;
                    out[i] = b'0' + (h(s, variant ^ k) % 10) as u8;
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn variation_is_consistent_and_keeps_labels() {
        let t = "The patient presented with chronic fever and severe chest pain.";
        assert_eq!(vary(t, 7), vary(t, 7));
        assert_ne!(vary(t, 7), vary(t, 8));
        assert_eq!(vary("entailment", 7), "entailment");
        assert_eq!(
            vary("['E_91', 'E_77', 'E_55', 'E_1', 'E_2']", 7),
            "['E_91', 'E_77', 'E_55', 'E_1', 'E_2']"
        );
        assert!(substitute("a &quot;word&quot; here", 3, 1).contains("&quot;"));
        assert_eq!(substitute("abcd efgh", 5, 1).len(), 9);
        let d = perturb_numbers("[['Bronchite', 0.19], ['URTI', 0.16]]", 5);
        assert!(d.starts_with("[['Bronchite', 0.") && d.len() == 37, "{d}");
        assert_eq!(perturb_numbers("A00.0", 5), "A00.0");
        assert_eq!(perturb_numbers("1", 5), "1");
        assert_eq!(perturb_numbers("071", 5).len(), 3);
    }
}
