//! Deterministic text variation and growth.
//!
//! Every function here is a pure function of its arguments (text, variant, target): the same
//! options give the same bytes. Two mechanisms:
//!
//! - [`substitute`]: same-length replacement of some lower-case ASCII words, decided per
//!   (word, variant) only, so a word changes the same way in every field of one record (a SQuAD
//!   answer stays a substring of its context, offsets stay valid).
//! - [`grow`]: filler sentences in the text's own style (script, case, tokenisation,
//!   punctuation, detected by [`style_of`]) inserted at sentence ends across the text, appended
//!   at its end, or added as new sections before an anchor, until the text has about a target
//!   length (each record draws its own target, 0.5–1.5 × the mean). Filler never contains a
//!   colon, an upper-case word or markup, so section headers (`FINDINGS:`), markers
//!   (`Discharge Instructions:`), tags and keyword rules over header lines are untouched.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Words of 4–12 letters used for same-length substitution and as content words of filler.
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
    "vein",
    "node",
    "care",
    "diet",
    "data",
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
    "nerve",
    "edema",
    "joint",
    "onset",
    "cough",
    "mucus",
    "trial",
    "stool",
    "urine",
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
    "cardiac",
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
    "history",
    "surgery",
    "implant",
    "sodium",
    "glucose",
    "insulin",
    "dosage",
    "nausea",
    "stroke",
    "artery",
    "tablet",
    "clinical",
    "diabetic",
    "efficacy",
    "evidence",
    "exposure",
    "hospital",
    "infusion",
    "systemic",
    "bilateral",
    "mortality",
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
    "endoscopic",
    "metabolism",
    "respiratory",
    "inflammation",
    "hypertension",
    "intervention",
    "neurological",
    "surveillance",
    "differential",
];

/// Short words that make filler read like prose (never substituted: fewer than 4 letters or
/// not in [`VOCAB`]).
const FUNCTION_WORDS: &[&str] = &[
    "the", "of", "and", "with", "in", "was", "no", "for", "to", "on", "is", "a", "after",
    "without", "were", "at", "by", "or", "not", "from", "are", "this", "per", "each",
];

const CJK_VOCAB: &[&str] = &[
    "患者",
    "症状",
    "治疗",
    "检查",
    "建议",
    "医生",
    "医院",
    "药物",
    "血压",
    "头痛",
    "发热",
    "咳嗽",
    "感染",
    "疼痛",
    "手术",
    "病史",
    "诊断",
    "休息",
    "注意",
    "饮食",
    "情况",
    "可能",
    "需要",
    "明显",
    "复查",
    "服用",
    "每天",
    "身体",
    "时间",
    "出现",
    "目前",
    "考虑",
    "如果",
    "进行",
    "一般",
    "正常",
    "问题",
    "慢性",
    "急性",
    "炎症",
    "肝功能",
    "血糖",
    "心脏",
    "胃部",
    "皮肤",
    "过敏",
    "营养",
    "睡眠",
    "恢复",
    "检测",
    "结果",
    "相关",
    "及时",
    "就诊",
    "观察",
    "剂量",
    "疗效",
    "影像",
    "血常规",
    "并发症",
];

const CYRILLIC_VOCAB: &[&str] = &[
    "пациент",
    "лечение",
    "болезнь",
    "симптом",
    "врач",
    "анализ",
    "кровь",
    "давление",
    "боль",
    "температура",
    "инфекция",
    "препарат",
    "диагноз",
    "терапия",
    "операция",
    "сердце",
    "печень",
    "почки",
    "лёгкие",
    "доза",
    "приём",
    "состояние",
    "обследование",
    "хронический",
    "острый",
    "признак",
    "результат",
    "риск",
    "течение",
    "осложнение",
    "и",
    "в",
    "с",
    "на",
    "при",
    "не",
    "для",
    "по",
    "после",
    "без",
];

/// Section titles used when a note grows by whole sections (see [`Grow::Before`]).
const SECTION_TITLES: &[&str] = &[
    "Past Medical History",
    "Social History",
    "Family History",
    "Physical Exam",
    "Pertinent Results",
    "Brief Hospital Course",
    "Medications on Admission",
    "Discharge Medications",
    "Discharge Diagnosis",
    "Discharge Condition",
    "Review of Systems",
    "Major Surgical or Invasive Procedure",
];

fn h(s: &str, seed: u64) -> u64 {
    xxh3_64_with_seed(s.as_bytes(), seed)
}

/// SplitMix64: a small, fast, seedable generator for filler text.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
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

/// Replaces some lower-case ASCII words of 4+ letters (not part of an `&entity;`) by words of
/// the same length; which ones and by what depends only on (word, variant), one word in `rate`.
pub fn substitute(s: &str, variant: u64, rate: u64) -> String {
    if variant == 0 {
        return s.to_string();
    }
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
            let glued = i < b.len() && (b[i] >= 0x80 || b[i].is_ascii_digit());
            if !amp && !glued && w.len() >= 4 && w.bytes().all(|c| c.is_ascii_lowercase()) {
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

/// Whether a string is prose (not a label, code, number, list or literal).
pub fn is_prose(s: &str) -> bool {
    if s.trim_start().starts_with(['[', '{', '(', '<']) {
        return false;
    }
    // one pass: whitespace-separated words, non-ASCII letters, characters, "plain" characters
    let (mut words, mut wide, mut total, mut plain) = (0usize, 0usize, 0usize, 0usize);
    let mut in_word = false;
    for c in s.chars() {
        total += 1;
        let ws = c.is_whitespace();
        if ws {
            in_word = false;
        } else if !in_word {
            in_word = true;
            words += 1;
        }
        let alpha = c.is_alphabetic();
        if alpha && !c.is_ascii() {
            wide += 1;
        }
        if alpha || ws || matches!(c, '.' | ',' | '\'' | '-' | '?') {
            plain += 1;
        }
    }
    if words < 5 && wide < 10 {
        return false;
    }
    plain * 4 >= total * 3
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Script {
    Latin,
    Cjk,
    Cyrillic,
}

/// How a text is written, so filler looks like it.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub script: Script,
    /// No upper-case letters at all (preprocessed text such as the MIMIC-IV ICD-10 notes).
    pub lower: bool,
    /// Punctuation is a separate token (`pain .`), as in PubMed-dataset or HoC sentences.
    pub tokenized: bool,
    /// Sentences end with punctuation (false for flattened text without any).
    pub punct: bool,
}

pub fn style_of(s: &str) -> Style {
    let mut cjk = 0usize;
    let mut cyr = 0usize;
    let mut letters = 0usize;
    let mut upper = false;
    let mut in_tag = false;
    // case, script, tokenisation and punctuation from the first 1,000 bytes
    let head = &s.as_bytes()[..s.len().min(1000)];
    if head.is_ascii() {
        // the common case, without Unicode tables
        for &b in head {
            match b {
                b'<' => in_tag = true,
                b'>' => in_tag = false,
                _ if !in_tag && b.is_ascii_alphabetic() => {
                    letters += 1;
                    upper |= b.is_ascii_uppercase();
                }
                _ => {}
            }
        }
    }
    for c in s.chars().take(if head.is_ascii() { 0 } else { 1000 }) {
        // markup such as `<S>` says nothing about the text's case
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ => {}
        }
        if c.is_alphabetic() && !in_tag {
            letters += 1;
            if c.is_uppercase() {
                upper = true;
            }
            match c as u32 {
                0x3040..=0x30ff | 0x3400..=0x9fff | 0xac00..=0xd7af => cjk += 1,
                0x0400..=0x04ff => cyr += 1,
                _ => {}
            }
        }
    }
    let script = if cjk * 10 >= letters * 3 && cjk > 0 {
        Script::Cjk
    } else if cyr * 10 >= letters * 3 && cyr > 0 {
        Script::Cyrillic
    } else {
        Script::Latin
    };
    Style {
        script,
        lower: !upper && letters > 0 && script == Script::Latin,
        tokenized: has(head, b" .") || has(head, b" , "),
        punct: head.iter().any(|b| matches!(b, b'.' | b'?' | b'!'))
            || has(head, "。".as_bytes())
            || has(head, "？".as_bytes())
            || has(head, "！".as_bytes())
            || s.trim().is_empty(),
    }
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Appends one filler sentence of about `words` words in `style`.
fn sentence(out: &mut String, style: Style, words: usize, rng: &mut Rng) {
    match style.script {
        Script::Cjk => {
            for k in 0..words {
                out.push_str(CJK_VOCAB[rng.below(CJK_VOCAB.len())]);
                if k + 1 < words && k % 5 == 4 {
                    out.push('，');
                }
            }
            out.push('。');
        }
        Script::Cyrillic => {
            for k in 0..words {
                let w = CYRILLIC_VOCAB[rng.below(CYRILLIC_VOCAB.len())];
                if k == 0 {
                    let mut c = w.chars();
                    out.extend(c.next().into_iter().flat_map(|c| c.to_uppercase()));
                    out.push_str(c.as_str());
                } else {
                    out.push(' ');
                    out.push_str(w);
                }
            }
            out.push('.');
        }
        Script::Latin => {
            // one draw per word: low bits choose a function or a content word, high bits which;
            // words come with their leading space (capitalised for a sentence's first word)
            let t = latin();
            for k in 0..words {
                let x = rng.next_u64();
                let hi = x >> 32;
                let (list, n) = if x % 10 < 3 {
                    (1, FUNCTION_WORDS.len())
                } else {
                    (0, VOCAB.len())
                };
                let i = ((hi * n as u64) >> 32) as usize;
                let w: &str = if k > 0 {
                    &t.spaced[list][i]
                } else if style.lower {
                    [VOCAB, FUNCTION_WORDS][list][i]
                } else {
                    &t.capital[list][i]
                };
                out.push_str(w);
            }
            if style.punct {
                if style.tokenized {
                    out.push_str(" .");
                } else {
                    out.push('.');
                }
            }
        }
    }
}

/// Filler words with a leading space, and capitalised (first word of a sentence).
struct Latin {
    spaced: [Vec<String>; 2],
    capital: [Vec<String>; 2],
}

fn latin() -> &'static Latin {
    static T: std::sync::OnceLock<Latin> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let spaced = |l: &[&str]| l.iter().map(|w| format!(" {w}")).collect::<Vec<_>>();
        let capital = |l: &[&str]| {
            l.iter()
                .map(|w| format!("{}{}", w[..1].to_ascii_uppercase(), &w[1..]))
                .collect::<Vec<_>>()
        };
        Latin {
            spaced: [spaced(VOCAB), spaced(FUNCTION_WORDS)],
            capital: [capital(VOCAB), capital(FUNCTION_WORDS)],
        }
    })
}

fn sep(style: Style) -> &'static str {
    if style.script == Script::Cjk { "" } else { " " }
}

/// Filler of about `chars` characters (at least one short sentence), sentences separated as
/// `style` separates them.
pub fn filler(style: Style, chars: usize, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(chars_to_bytes(style, chars) + 64);
    filler_into(&mut out, style, chars, rng);
    out
}

/// [`filler`], appended to `out`.
pub fn filler_into(out: &mut String, style: Style, chars: usize, rng: &mut Rng) {
    let per_word = if style.script == Script::Cjk { 2 } else { 7 };
    let start = out.len();
    let want = chars_to_bytes(style, chars);
    out.reserve(want + 160);
    let mut n = 0usize;
    // long filler: whole sentences drawn from a pool of the style's sentences (one copy per
    // sentence instead of one per word); the last ~100 bytes, and short filler, word by
    // word, so that even one-sentence additions differ between records
    if want > 200 {
        let pool = pool(style);
        let sp = sep(style);
        while out.len() - start + 100 < want {
            if n > 0 {
                out.push_str(sp);
            }
            out.push_str(&pool[rng.below(pool.len())]);
            n += 1;
        }
    }
    while n == 0 || out.len() - start < want {
        if n > 0 {
            out.push_str(sep(style));
        }
        let left = want.saturating_sub(out.len() - start) / chars_to_bytes(style, 1);
        let words = (3 + rng.below(14)).min(left / per_word + 3);
        sentence(out, style, words, rng);
        n += 1;
    }
}

/// 4,096 filler sentences of 3–16 words in `style` (fixed: records differ by which
/// sentences they draw and in what order).
fn pool(style: Style) -> &'static [String] {
    use std::sync::{Mutex, OnceLock};
    type Pools = Mutex<Vec<((Script, bool, bool, bool), &'static [String])>>;
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let key = (style.script, style.lower, style.tokenized, style.punct);
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut g = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = g.iter().find(|(k, _)| *k == key) {
        return p;
    }
    let mut rng = Rng::new(
        0x5ea7_e11c
            ^ ((key.1 as u64) << 1 | (key.2 as u64) << 2 | (key.3 as u64) << 3)
            ^ (key.0 as u64) << 8,
    );
    let v: Vec<String> = (0..4096)
        .map(|_| {
            let mut s = String::new();
            let words = 3 + rng.below(14);
            sentence(&mut s, style, words, &mut rng);
            s
        })
        .collect();
    let p: &'static [String] = Box::leak(v.into_boxed_slice());
    g.push((key, p));
    p
}

fn chars_to_bytes(style: Style, chars: usize) -> usize {
    match style.script {
        Script::Latin => chars,
        Script::Cjk => chars * 3,
        Script::Cyrillic => chars * 2,
    }
}

/// `n` content words (no function words), lower-case, space-separated.
pub fn content_words(n: usize, rng: &mut Rng) -> String {
    let mut out = String::new();
    for k in 0..n {
        if k > 0 {
            out.push(' ');
        }
        let word: &str = rng.pick::<&str>(VOCAB);
        out.push_str(word);
    }
    out
}

/// Where growth goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grow {
    /// At sentence ends spread over the whole text (appended when it has none).
    Spread,
    /// Appended at the end (before trailing whitespace and a closing tag): offsets into the
    /// text stay valid (SQuAD answers, brat annotations, PubTator entities).
    End,
    /// Mostly (85 %) as new sections (`Title:\nsentences`) right before the first occurrence
    /// of the anchor, the rest spread.
    Before(&'static str),
}

/// Byte positions right after a sentence end that filler may follow.
fn slots(s: &str, style: Style) -> Vec<usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    match style.script {
        Script::Cjk => {
            for (i, c) in s.char_indices() {
                if matches!(c, '。' | '？' | '！') {
                    out.push(i + c.len_utf8());
                }
            }
        }
        _ => {
            for i in 1..b.len() {
                if !matches!(b[i], b'.' | b'?' | b'!') {
                    continue;
                }
                let after_ok = i + 1 == b.len() || matches!(b[i + 1], b' ' | b'\n' | b'\r');
                if !after_ok {
                    continue;
                }
                let ok = if style.tokenized && b[i - 1] == b' ' {
                    i >= 3 && b[i - 2].is_ascii_lowercase() && b[i - 3].is_ascii_lowercase()
                } else if style.script == Script::Cyrillic {
                    s[..i].chars().next_back().is_some_and(|c| c.is_lowercase())
                } else {
                    i >= 2 && b[i - 1].is_ascii_lowercase() && b[i - 2].is_ascii_lowercase()
                };
                if ok {
                    out.push(i + 1);
                }
            }
        }
    }
    out
}

/// Byte position where appended text goes: before trailing whitespace and one closing tag
/// such as `</S>`.
fn end_slot(s: &str) -> usize {
    let body = s.trim_end();
    let mut end = body.len();
    if body.ends_with('>')
        && let Some(lt) = body.rfind("</")
        && !body[lt..].contains(' ')
    {
        end = body[..lt].trim_end().len();
    }
    end
}

fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The record's own target: `mean` × a factor in [0.5, 1.5) drawn from the variant.
pub fn record_target(mean: usize, variant: u64, what: &str) -> usize {
    let u = (h(what, variant) >> 11) as f64 / (1u64 << 53) as f64;
    (mean as f64 * (0.5 + u)).round() as usize
}

/// Substitutes words and grows `s` to about `target` characters (`target` is the record's
/// own target, see [`record_target`]); when `s` is already that long, adds one short sentence
/// so that every variant differs. Variant 0 is the text unchanged.
pub fn grow(s: &str, target: usize, how: Grow, variant: u64, what: &str) -> String {
    if variant == 0 {
        return s.to_string();
    }
    let base = substitute(s, variant, 4);
    let style = style_of(&base);
    let mut rng = Rng::new(h(what, variant));
    let have = char_len(&base);
    let want = target.saturating_sub(have).max(24);
    insert_filler(&base, want, how, style, &mut rng)
}

/// Adds about `chars` characters of filler to `s` where `how` says.
pub fn insert_filler(s: &str, chars: usize, how: Grow, style: Style, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(s.len() + chars_to_bytes(style, chars) + 256);
    let sp = sep(style);
    match how {
        Grow::Before(anchor) if s.contains(anchor) && chars > 200 => {
            let at = s.find(anchor).unwrap_or(s.len());
            let block_chars = chars * 85 / 100;
            spread_into(&mut out, &s[..at], chars - block_chars, style, rng);
            let start = out.len();
            while out.len() - start < chars_to_bytes(style, block_chars) {
                out.push_str(SECTION_TITLES[rng.below(SECTION_TITLES.len())]);
                out.push_str(":\n");
                let body = 300 + rng.below(900);
                filler_into(&mut out, style, body, rng);
                out.push_str("\n \n");
            }
            out.push_str(&s[at..]);
        }
        Grow::End => {
            let at = end_slot(s);
            out.push_str(&s[..at]);
            if at > 0 {
                out.push_str(sp);
            }
            filler_into(&mut out, style, chars, rng);
            out.push_str(&s[at..]);
        }
        _ => spread_into(&mut out, s, chars, style, rng),
    }
    out
}

/// Appends `s` to `out` with about `chars` characters of filler inserted at up to 32
/// sentence ends spread over it (appended at its end when it has none).
fn spread_into(out: &mut String, s: &str, chars: usize, style: Style, rng: &mut Rng) {
    if chars == 0 {
        out.push_str(s);
        return;
    }
    let all = slots(s, style);
    let sp = sep(style);
    if all.is_empty() {
        let at = end_slot(s);
        out.push_str(&s[..at]);
        if at > 0 {
            out.push_str(sp);
        }
        filler_into(out, style, chars, rng);
        out.push_str(&s[at..]);
        return;
    }
    // few slots for short additions, up to 32 for long ones
    let k = (chars / 400).clamp(1, 32).min(all.len());
    let chosen: Vec<usize> = if k == all.len() {
        all
    } else {
        let mut idx: Vec<usize> = (0..k).map(|j| j * all.len() / k).collect();
        let off = rng.below(all.len() / k);
        for i in &mut idx {
            *i = (*i + off).min(all.len() - 1);
        }
        idx.dedup();
        idx.into_iter().map(|i| all[i]).collect()
    };
    let each = chars / chosen.len();
    let mut last = 0;
    for at in chosen {
        out.push_str(&s[last..at]);
        out.push_str(sp);
        filler_into(out, style, each, rng);
        last = at;
    }
    out.push_str(&s[last..]);
}

/// The default variation of an unlisted field: prose gets substituted words and one short
/// sentence at its end; anything else is unchanged. Variant 0 is the text unchanged.
pub fn vary(s: &str, variant: u64) -> String {
    if variant == 0 || !is_prose(s) {
        return s.to_string();
    }
    let base = substitute(s, variant, 4);
    let style = style_of(&base);
    let mut rng = Rng::new(h(s, variant));
    insert_filler(&base, 24, Grow::End, style, &mut rng)
}

/// Prefixes every ASCII digit run of at least `min_len` digits (only the first run when
/// `first_only`) with the replica round `r` (`r = 0`: unchanged): `DOID:9000010` → round 3 →
/// `DOID:39000010`. Keys rewritten this way stay unique across rounds (for runs of one length)
/// and equal wherever the same key appears, so joins between files still resolve.
pub fn rekey(s: &str, r: u64, min_len: usize, first_only: bool) -> String {
    if r == 0 {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    let mut last = 0;
    let mut done = false;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if !done && i - start >= min_len {
                out.push_str(&s[last..start]);
                out.push_str(&r.to_string());
                out.push_str(&s[start..i]);
                last = i;
                done = first_only;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// ICD-10-style codes (`A00`, `A00.0`, `S01.0XXA`; also inside `A00-A09`) get a round-specific
/// extension: `A00.0` → `A00.0X1`, `A00` → `A00.X1` (base 35 without the letter X after the
/// marker `X`), so every round's codes are new codes of the same shape; round 0 unchanged.
pub fn recode(s: &str, r: u64) -> String {
    if r == 0 {
        return s.to_string();
    }
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWYZ";
    let mut ext = Vec::new();
    let mut x = r;
    while x > 0 {
        ext.push(DIGITS[(x % 35) as usize]);
        x /= 35;
    }
    ext.reverse();
    let ext = String::from_utf8(ext).unwrap_or_default();
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary
            && b[i].is_ascii_uppercase()
            && i + 2 < b.len()
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_alphanumeric()
        {
            let mut j = i + 3;
            let mut dot = false;
            if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_alphanumeric() {
                dot = true;
                j += 1;
                while j < b.len() && b[j].is_ascii_alphanumeric() {
                    j += 1;
                }
            }
            if j == b.len() || !b[j].is_ascii_alphanumeric() {
                out.push_str(&s[i..j]);
                if !dot {
                    out.push('.');
                }
                out.push('X');
                out.push_str(&ext);
                i = j;
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Numbers in a non-prose cell: a whole cell of 2–3 digits (ages, sizes, months; never
/// 1-digit flags or long ids) gets another value of the same width, and the fractional digits
/// of decimals (`0.19`, `98.6`; not codes such as `A00.0`) are redrawn. Pure function of
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

    #[test]
    fn growth_reaches_the_target_and_keeps_markers() {
        let note = "EXAMINATION:  CT CHEST W/O CONTRAST\n\nFINDINGS:\nThe lungs are clear. No effusion.\n\nIMPRESSION:\nNo acute process.\n";
        let g = grow(note, 1500, Grow::Spread, 9, "text");
        assert!((1300..1800).contains(&g.len()), "{}", g.len());
        for m in [
            "EXAMINATION:  CT CHEST W/O CONTRAST\n",
            "FINDINGS:\n",
            "IMPRESSION:\n",
        ] {
            assert!(g.contains(m), "{m} lost in {g}");
        }
        assert_eq!(g.matches(':').count(), 3, "filler adds no colons");
        let d = "History:\nHe was well. He improved.\n \nDischarge Instructions:\nRest. Call us.\n";
        let g = grow(d, 5000, Grow::Before("Discharge Instructions:"), 3, "text");
        let at = g.find("Discharge Instructions:").unwrap();
        assert!(at > 3500, "growth goes before the anchor: {at}");
        let zh = grow(
            "孩子咳嗽一个星期了，可以吃止咳糖浆吗？",
            80,
            Grow::Spread,
            2,
            "q",
        );
        assert!(zh.chars().count() > 40 && !zh.contains(' '), "{zh}");
        let flat = grow(
            "admission date discharge date service medicine",
            400,
            Grow::Spread,
            2,
            "t",
        );
        assert!(!flat.contains('.') && flat == flat.to_lowercase(), "{flat}");
        let tok = grow(
            "<S> background : pain is common . </S>",
            200,
            Grow::End,
            2,
            "a",
        );
        assert!(tok.ends_with(" . </S>") && tok.len() > 120, "{tok}");
    }

    #[test]
    fn keys_and_codes_change_per_round() {
        assert_eq!(rekey("DOID:9000010", 3, 1, true), "DOID:39000010");
        assert_eq!(rekey("7211001-1", 12, 5, false), "127211001-1");
        assert_eq!(
            rekey("{'7211001-2': 2, '6633018-1': 1}", 2, 5, false),
            "{'27211001-2': 2, '26633018-1': 1}"
        );
        assert_eq!(rekey("x", 2, 1, true), "x");
        assert_eq!(recode("A00.0", 1), "A00.0X1");
        assert_eq!(recode("A00", 36), "A00.X11");
        assert_eq!(recode("A00-A09", 2), "A00.X2-A09.X2");
        assert_eq!(
            recode("Fixture wound (S08.0)", 2),
            "Fixture wound (S08.0X2)"
        );
        assert_eq!(recode("A00.0", 0), "A00.0");
    }
}
