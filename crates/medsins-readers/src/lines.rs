//! Line-oriented annotation formats: IOB/CoNLL, PubTator, brat standoff; and detokenisation.

use crate::bytes::strip_bom;
use crate::limits::Limits;
use crate::{ReadError, RecordError, Sink, format_err, record, record_too_large, too_large};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Joins tokens into text as it was written: no space before closing punctuation
/// (`. , ; : ? ! ) ] } %` and clitics `'s`, `n't`), none after opening brackets, none around
/// `-` and `/` inside words, and a lone `'` joins a following clitic (`Parkinson ' s` becomes
/// `Parkinson's`). `sp . nov .` becomes `sp. nov.`; `Gram - positive` becomes `Gram-positive`;
/// a `-` between a lower-case word and a number is a minus sign (`at - 80` becomes `at -80`),
/// while `IL - 2` stays a hyphenated name (`IL-2`).
pub fn detokenize<S: AsRef<str>>(tokens: &[S]) -> String {
    const CLITICS: &[&str] = &["s", "t", "re", "ll", "ve", "d", "m"];
    let mut out = String::new();
    let mut glue_next = false;
    for (i, t) in tokens.iter().enumerate() {
        let t = t.as_ref();
        let prev = i.checked_sub(1).map(|j| tokens[j].as_ref());
        let next = tokens.get(i + 1).map(|x| x.as_ref());
        let closes = matches!(
            t,
            "." | "," | ";" | ":" | "?" | "!" | ")" | "]" | "}" | "%" | "'s" | "n't" | "'"
        ) || t.starts_with('\'') && t.len() <= 3;
        let minus = t == "-"
            && prev.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && next.is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()));
        let joiner = matches!(t, "-" | "/") && !minus;
        if i > 0 && !glue_next && !closes && !joiner {
            out.push(' ');
        }
        out.push_str(t);
        glue_next = matches!(t, "(" | "[" | "{")
            || joiner
            || minus
            || (t == "'" && next.is_some_and(|n| CLITICS.contains(&n)));
    }
    out
}

/// IOB/CoNLL: one `token<whitespace>…<whitespace>tag` line per token, a blank line between
/// sentences (`-DOCSTART-` lines are skipped). One record per sentence: `tokens` (the first
/// column) and `tags` (the last).
pub fn read_iob(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    let text =
        std::str::from_utf8(data).map_err(|e| format_err(path, format!("not UTF-8 text: {e}")))?;
    let mut tokens: Vec<Value> = Vec::new();
    let mut tags: Vec<Value> = Vec::new();
    let mut bad: Option<String> = None;
    let mut first_line = 0usize;
    let mut start_byte = 0usize;
    let mut sentence = 0usize;
    let mut offset = 0usize;
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    loop {
        let next = lines.next();
        let (is_break, line_no, line) = match next {
            Some((i, l)) => (l.trim().is_empty() || l.starts_with("-DOCSTART-"), i + 1, l),
            None => (true, 0, ""),
        };
        if is_break {
            if !tokens.is_empty() || bad.is_some() {
                sentence += 1;
                let last = if line_no == 0 {
                    text.lines().count()
                } else {
                    line_no - 1
                };
                let locator = format!("sentence {sentence} (lines {first_line}-{last})");
                let raw = &data[start_byte..offset];
                if let Some(message) = bad.take() {
                    sink(Err(RecordError { locator, message }));
                } else {
                    let mut f = Map::new();
                    f.insert("tokens".into(), Value::Array(std::mem::take(&mut tokens)));
                    f.insert("tags".into(), Value::Array(std::mem::take(&mut tags)));
                    f.insert("sentence_index".into(), Value::from(sentence));
                    sink(Ok(record(f, locator, raw)));
                }
                tokens.clear();
                tags.clear();
            }
            if next.is_none() {
                break;
            }
            offset += line.len();
            start_byte = offset;
            continue;
        }
        if tokens.is_empty() && bad.is_none() {
            first_line = line_no;
            start_byte = offset;
        }
        offset += line.len();
        if too_large(offset - start_byte, limits) {
            let locator = format!("sentence {} (from line {first_line})", sentence + 1);
            return Err(record_too_large(path, limits, &locator));
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 2 {
            bad.get_or_insert_with(|| {
                format!(
                    "line {line_no}: expected `token<TAB>tag`, found {:?}",
                    line.trim_end()
                )
            });
            continue;
        }
        tokens.push(Value::String(parts[0].to_string()));
        tags.push(Value::String(parts[parts.len() - 1].to_string()));
    }
    Ok(())
}

/// PubTator: documents separated by blank lines; `PMID|t|title`, `PMID|a|abstract`, then
/// annotation lines `PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id` and relation lines
/// `PMID<TAB>CID<TAB>id1<TAB>id2`. One record per document: `pmid`, `title`, `abstract`,
/// `text` (title, a space, abstract; the offsets refer to it), `entities`, `relations`.
pub fn read_pubtator(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    let text =
        std::str::from_utf8(data).map_err(|e| format_err(path, format!("not UTF-8 text: {e}")))?;
    // (first line number, byte start, lines) of the current document
    let mut block: Vec<&str> = Vec::new();
    let (mut first_line, mut start) = (0usize, 0usize);
    let mut offset = 0usize;
    let mut lines = text.split_inclusive('\n').enumerate();
    loop {
        let next = lines.next();
        let is_break = next.is_none_or(|(_, l)| l.trim().is_empty());
        if is_break && !block.is_empty() {
            pubtator_document(&block, first_line, &data[start..offset], sink);
            block.clear();
        }
        let Some((i, l)) = next else { break };
        if !is_break {
            if block.is_empty() {
                first_line = i + 1;
                start = offset;
            }
            block.push(l.trim_end_matches(['\n', '\r']));
        }
        offset += l.len();
        if !block.is_empty() && too_large(offset - start, limits) {
            let locator = format!("the document from line {first_line}");
            return Err(record_too_large(path, limits, &locator));
        }
    }
    Ok(())
}

fn pubtator_document(block: &[&str], first_line: usize, raw: &[u8], sink: &mut Sink) {
    let (mut pmid, mut title, mut abs) = (String::new(), String::new(), String::new());
    let mut entities = Vec::new();
    let mut relations = Vec::new();
    let mut problem = None;
    for (k, l) in block.iter().enumerate() {
        if let Some((id, rest)) = l.split_once("|t|") {
            pmid = id.to_string();
            title = rest.to_string();
        } else if let Some((_, rest)) = l.split_once("|a|") {
            abs = rest.to_string();
        } else {
            let p: Vec<&str> = l.split('\t').collect();
            match p.len() {
                4 => relations.push(json!({"type": p[1], "arg1": p[2], "arg2": p[3]})),
                5 | 6 => match (p[1].parse::<u64>(), p[2].parse::<u64>()) {
                    (Ok(s), Ok(e)) => entities.push(json!({
                        "start": s, "end": e, "text": p[3], "type": p[4],
                        "id": p.get(5).copied().unwrap_or("")
                    })),
                    _ => {
                        problem = Some(format!("line {}: offsets are not numbers", first_line + k))
                    }
                },
                _ => {
                    problem = Some(format!(
                        "line {}: not a PubTator title, abstract, annotation or relation line",
                        first_line + k
                    ))
                }
            }
        }
    }
    let locator = format!("document {pmid} (line {first_line})");
    if let Some(message) = problem {
        sink(Err(RecordError { locator, message }));
        return;
    }
    let mut f = Map::new();
    f.insert("pmid".into(), Value::String(pmid));
    f.insert("text".into(), Value::String(format!("{title} {abs}")));
    f.insert("title".into(), Value::String(title));
    f.insert("abstract".into(), Value::String(abs));
    f.insert("entities".into(), Value::Array(entities));
    f.insert("relations".into(), Value::Array(relations));
    sink(Ok(record(f, locator, raw)));
}

/// brat standoff: the `.txt` file at `path` and its `.ann` beside it. One record: `text`,
/// `entities` (`{id, type, start, end, text}`, discontinuous spans joined), `relations`
/// (`{id, type, arg1, arg2}`) and `attributes` (`{id, type, target, value}`).
pub fn read_brat(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let ann_path = path.with_extension("ann");
    let ann_len = std::fs::metadata(&ann_path).map_or(0, |m| m.len());
    if too_large(data.len().saturating_add(ann_len as usize), limits) {
        return Err(record_too_large(path, limits, "document"));
    }
    let text = String::from_utf8_lossy(strip_bom(data)).into_owned();
    let ann = std::fs::read_to_string(&ann_path).unwrap_or_default();
    let mut entities = Vec::new();
    let mut relations = Vec::new();
    let mut attributes = Vec::new();
    for (i, l) in ann.lines().enumerate() {
        let p: Vec<&str> = l.splitn(3, '\t').collect();
        let Some(id) = p.first() else { continue };
        let mid: Vec<&str> = p.get(1).map(|m| m.split(' ').collect()).unwrap_or_default();
        match id.chars().next() {
            Some('T') if mid.len() >= 3 => {
                let spans = mid[1..].join(" ");
                let (start, end) = spans
                    .split(';')
                    .filter_map(|s| s.split_once(' '))
                    .filter_map(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                    .fold((u64::MAX, 0), |(s, e), (a, b)| (s.min(a), e.max(b)));
                entities.push(json!({"id": id, "type": mid[0], "start": start, "end": end, "text": p.get(2).copied().unwrap_or("")}));
            }
            Some('R') if mid.len() >= 3 => relations.push(json!({
                "id": id, "type": mid[0],
                "arg1": mid[1].trim_start_matches("Arg1:"), "arg2": mid[2].trim_start_matches("Arg2:")
            })),
            Some('A') | Some('M') if mid.len() >= 2 => attributes.push(json!({
                "id": id, "type": mid[0], "target": mid[1], "value": mid.get(2).copied().unwrap_or("true")
            })),
            _ => {
                let _ = i;
            }
        }
    }
    let mut f = Map::new();
    f.insert(
        "document".into(),
        Value::String(
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    );
    f.insert("text".into(), Value::String(text));
    f.insert("entities".into(), Value::Array(entities));
    f.insert("relations".into(), Value::Array(relations));
    f.insert("attributes".into(), Value::Array(attributes));
    let mut raw = data.to_vec();
    raw.extend_from_slice(ann.as_bytes());
    sink(Ok(record(f, "document".into(), &raw)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detokenize_reattaches_punctuation() {
        let t = [
            "Streptococcus",
            "ursoris",
            "sp",
            ".",
            "nov",
            ".",
            ",",
            "isolated",
            "(",
            "n",
            "=",
            "3",
            ")",
            "Gram",
            "-",
            "positive",
        ];
        assert_eq!(
            detokenize(&t),
            "Streptococcus ursoris sp. nov., isolated (n = 3) Gram-positive"
        );
        assert_eq!(
            detokenize(&["Parkinson", "'", "s", "disease"]),
            "Parkinson's disease"
        );
        assert_eq!(
            detokenize(&["stored", "at", "-", "80", "degrees"]),
            "stored at -80 degrees"
        );
        assert_eq!(
            detokenize(&[
                "IL", "-", "2", "and", "5", "-", "10", "mg", "follow", "-", "up"
            ]),
            "IL-2 and 5-10 mg follow-up"
        );
    }

    #[test]
    fn iob_sentences_with_locators() {
        let data = b"-DOCSTART-\tO\n\nA\tB\nb\tI\n.\tO\n\nC\tO\nbad\n\nD\tB-Chemical\n";
        let mut v = Vec::new();
        read_iob(Path::new("x.tsv"), data, &Limits::default(), &mut |r| {
            v.push(r)
        })
        .unwrap();
        assert_eq!(v.len(), 3);
        let s1 = v[0].as_ref().unwrap();
        assert_eq!(s1.fields["tokens"], json!(["A", "b", "."]));
        assert_eq!(s1.fields["tags"], json!(["B", "I", "O"]));
        assert_eq!(s1.locator, "sentence 1 (lines 3-5)");
        assert_eq!(
            s1.raw_sha256,
            medsins_core::sha256_hex(b"A\tB\nb\tI\n.\tO\n")
        );
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.locator, "sentence 2 (lines 7-8)");
        assert!(e.message.contains("line 8"), "{}", e.message);
        assert_eq!(v[2].as_ref().unwrap().locator, "sentence 3 (lines 10-10)");
    }

    #[test]
    fn pubtator_documents() {
        let data = b"1|t|Aspirin works.\n1|a|It helps.\n1\t0\t7\tAspirin\tChemical\tD001241\n1\tCID\tD001241\tD000001\n\n2|t|T\n2|a|A\n";
        let mut v = Vec::new();
        read_pubtator(Path::new("x.txt"), data, &Limits::default(), &mut |r| {
            v.push(r)
        })
        .unwrap();
        assert_eq!(v.len(), 2);
        let d = v[0].as_ref().unwrap();
        assert_eq!(d.fields["text"], "Aspirin works. It helps.");
        assert_eq!(d.fields["entities"][0]["text"], "Aspirin");
        assert_eq!(d.fields["relations"][0]["arg2"], "D000001");
        assert_eq!(d.locator, "document 1 (line 1)");
        assert_eq!(v[1].as_ref().unwrap().locator, "document 2 (line 6)");
    }
}
