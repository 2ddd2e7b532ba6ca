//! `medsins report <out> --html FILE`: one self-contained HTML page about a build — rows per
//! task and category, text lengths, what each quality stage removed and why, licence and
//! access mix, near-duplicate cluster sizes, token counts when the build has them, and the
//! semantic checks. Inline CSS and SVG only: no script, no font, no network.

use crate::svg::{self, Bar, colour, esc, thousands};
use crate::{BuildDir, PublishError, io_err};
use arrow_array::{Array, Int32Array, StringArray};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// What the report reads from the shards and the ledger (the rest comes from `stats.json`).
#[derive(Default)]
struct Scan {
    /// task id → category
    category: BTreeMap<String, String>,
    /// log2 bins of input and output lengths in characters: `[bin] = (input, output)`
    chars: Vec<[u64; 2]>,
    /// the same of token counts, when the shards have them
    tokens: Option<Vec<[u64; 2]>>,
    /// (stage, reason) → ledger entries
    ledger: BTreeMap<(String, String), u64>,
    /// near-duplicate cluster size → clusters
    clusters: BTreeMap<u64, u64>,
}

fn bump(bins: &mut Vec<[u64; 2]>, v: u64, side: usize) {
    let k = svg::log2_bin(v);
    if bins.len() <= k {
        bins.resize(k + 1, [0, 0]);
    }
    bins[k][side] += 1;
}

fn scan(dir: &BuildDir) -> Result<Scan, PublishError> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut s = Scan::default();
    for ((task, _), shards) in dir.shards()? {
        for path in shards {
            let pe = |e: String| PublishError::Invalid(format!("{}: {e}", path.display()));
            let file = std::fs::File::open(&path).map_err(io_err(&path))?;
            let b =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| pe(e.to_string()))?;
            let wanted = [
                "category",
                "input",
                "output",
                "input_tokens",
                "output_tokens",
            ];
            let roots: Vec<usize> = b
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| wanted.contains(&f.name().as_str()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(b.parquet_schema(), roots);
            for batch in b
                .with_projection(mask)
                .build()
                .map_err(|e| pe(e.to_string()))?
            {
                let batch = batch.map_err(|e| pe(e.to_string()))?;
                let strings = |n: &str| {
                    batch
                        .column_by_name(n)
                        .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                };
                let ints = |n: &str| {
                    batch
                        .column_by_name(n)
                        .and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned())
                };
                if let Some(c) = strings("category")
                    && c.len() > 0
                {
                    s.category
                        .entry(task.clone())
                        .or_insert_with(|| c.value(0).to_string());
                }
                for (side, col) in ["input", "output"].iter().enumerate() {
                    if let Some(a) = strings(col) {
                        for i in 0..a.len() {
                            bump(&mut s.chars, a.value(i).chars().count() as u64, side);
                        }
                    }
                }
                for (side, col) in ["input_tokens", "output_tokens"].iter().enumerate() {
                    if let Some(a) = ints(col) {
                        let bins = s.tokens.get_or_insert_with(Vec::new);
                        for i in 0..a.len() {
                            bump(bins, a.value(i).max(0) as u64, side);
                        }
                    }
                }
            }
        }
    }
    let ledger = dir.path.join(medsins_output::LEDGER_FILE);
    if ledger.is_file() {
        // (task, kept id) → members other than the representative
        let mut members: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut failure = None;
        medsins_output::for_each_row_batch(
            &ledger,
            &["task_id", "stage", "reason", "kept_id"],
            &mut |rows| {
                for r in rows {
                    let g = |k: &str| {
                        r.get(k)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let reason = g("reason");
                    if reason.starts_with("near_duplicate") {
                        if r.get("kept_id").is_some_and(|v| v.is_string()) {
                            *members.entry((g("task_id"), g("kept_id"))).or_default() += 1;
                        } else {
                            failure.get_or_insert_with(|| {
                                format!(
                                    "{}: a near-duplicate entry without kept_id",
                                    ledger.display()
                                )
                            });
                        }
                    }
                    *s.ledger.entry((g("stage"), reason)).or_default() += 1;
                }
            },
        )?;
        if let Some(f) = failure {
            return Err(PublishError::Invalid(f));
        }
        for n in members.values() {
            *s.clusters.entry(n + 1).or_default() += 1;
        }
    }
    Ok(s)
}

const CSS: &str = "body{font-family:sans-serif;margin:24px auto;max-width:940px;color:#222;background:#fff}\
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:2px solid #4e79a7;padding-bottom:4px}\
p.note{color:#555;font-size:13px}table{border-collapse:collapse;font-size:13px;margin:8px 0}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right}th{background:#eef2f7}\
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#eef2f7;border-left:4px solid #4e79a7;padding:8px 14px}\
.card b{display:block;font-size:20px}.warn{background:#fdecea;border-left:4px solid #e15759;padding:8px 14px}\
svg.chart{display:block;margin:8px 0}svg .lbl{font-size:11px;fill:#222}svg .val{font-size:10px;fill:#555}\
svg .axis{stroke:#888;stroke-width:1}";

/// What a ledger reason means, for the quality table.
fn reason_text(reason: &str) -> &'static str {
    match reason {
        "quarantined" => "raw record unreadable or malformed",
        "filtered" => "left out by the task's filter",
        "empty_input" | "empty_output" => "empty after normalisation",
        "exact_duplicate" => "same id (task, input, output) as an earlier sample",
        "near_duplicate" => "near-duplicate (MinHash, Jaccard ≥ threshold), removed",
        "near_duplicate_flag" => "near-duplicate, flagged and kept",
        "contaminated" => "n-gram overlap with a benchmark test set",
        "leak" => "training input equals or near-duplicates a held-out input",
        "too_long" => "over --max-tokens",
        _ => "",
    }
}

fn table(head: &[&str], rows: &[Vec<String>], numeric_from: usize) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// The report page of the build in `dir`.
pub fn render(dir: &BuildDir) -> Result<String, PublishError> {
    let scan = scan(dir)?;
    let mut h = String::new();
    header(&mut h, dir);
    let tasks = rows_per_category_and_task(&mut h, dir, &scan);
    lengths_and_tokens(&mut h, &scan);
    quality(&mut h, &scan, &tasks);
    clusters(&mut h, &scan);
    licences(&mut h, dir);
    checks(&mut h, dir)?;
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The page's head, the build line, the headline counts and the restricted-rows warning.
fn header(h: &mut String, dir: &BuildDir) {
    let st = &dir.stats;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MedS-Ins build report</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>MedS-Ins build report</h1><p class=\"note\">Built by <code>{}</code>; {}.</p>",
        esc(&dir.lock.builder_version),
        if dir.lock.complete {
            "every requested corpus was built".to_string()
        } else {
            format!(
                "partial build — missing: {}; failed: {}",
                esc(&dir.lock.missing.join(", ")),
                esc(&dir.lock.failed.join(", "))
            )
        }
    );
    h.push_str("<div class=\"cards\">");
    let mut cards = vec![
        ("samples", st.samples),
        ("tasks", st.tasks),
        ("corpora", st.corpora),
    ];
    for split in ["train", "validation", "test"] {
        cards.push((split, st.per_split.get(split).copied().unwrap_or(0)));
    }
    for (k, v) in cards {
        let _ = write!(h, "<div class=\"card\"><b>{}</b>{k}</div>", thousands(v));
    }
    h.push_str("</div>");
    let restricted = dir.restricted_rows();
    if !restricted.is_empty() {
        let list: Vec<String> = restricted
            .iter()
            .map(|(a, n)| format!("{} {a}", thousands(*n)))
            .collect();
        let _ = write!(
            h,
            "<p class=\"warn\">Restricted rows: {}. Their terms forbid redistribution: publish only to a private, gated repository (<code>medsins push</code> refuses otherwise).</p>",
            esc(&list.join(", "))
        );
    }
}

/// Rows per category and per task; returns the tasks in task-number order.
fn rows_per_category_and_task<'a>(
    h: &mut String,
    dir: &'a BuildDir,
    scan: &Scan,
) -> Vec<(&'a String, &'a medsins_output::TaskStats)> {
    let st = &dir.stats;
    let categories: Vec<&String> = st.per_category.keys().collect();
    let cat_colour = |c: &str| colour(categories.iter().position(|x| x.as_str() == c).unwrap_or(0));
    h.push_str("<h2 id=\"rows\">Rows per category</h2>");
    let mut bars: Vec<Bar> = st
        .per_category
        .iter()
        .map(|(c, n)| Bar {
            label: c.clone(),
            value: *n,
            colour: cat_colour(c),
            title: String::new(),
        })
        .collect();
    bars.sort_by(|a, b| b.value.cmp(&a.value).then(a.label.cmp(&b.label)));
    h.push_str(&svg::hbars(&bars, false, 260));
    h.push_str("<h2 id=\"tasks\">Rows per task</h2><p class=\"note\">Bar length on a log scale; colour = category (as above).</p>");
    let mut tasks: Vec<(&String, &medsins_output::TaskStats)> = st.per_task.iter().collect();
    tasks.sort_by_key(|(_, t)| t.task_no);
    let bars: Vec<Bar> = tasks
        .iter()
        .map(|(id, t)| {
            let cat = scan.category.get(*id).map(String::as_str).unwrap_or("");
            let splits: Vec<String> = t
                .per_split
                .iter()
                .map(|(s, n)| format!("{s} {}", thousands(*n)))
                .collect();
            Bar {
                label: id.to_string(),
                value: t.samples,
                colour: cat_colour(cat),
                title: format!(
                    "{id} ({}, {cat}): {} rows — {}",
                    t.corpus_id,
                    thousands(t.samples),
                    splits.join(", ")
                ),
            }
        })
        .collect();
    h.push_str(&svg::hbars(&bars, true, 400));

    tasks
}

/// Text lengths, and token counts when the build had a tokenizer.
fn lengths_and_tokens(h: &mut String, scan: &Scan) {
    h.push_str("<h2 id=\"lengths\">Text lengths</h2><p class=\"note\">Rows per length in characters, bins doubling in width.</p>");
    let labels: Vec<String> = (0..scan.chars.len()).map(svg::log2_label).collect();
    let values: Vec<Vec<u64>> = scan.chars.iter().map(|b| b.to_vec()).collect();
    h.push_str(&svg::histogram(
        &labels,
        &values,
        &[("input", colour(0)), ("output", colour(1))],
    ));
    if let Some(tok) = &scan.tokens {
        h.push_str("<h2 id=\"tokens\">Tokens</h2><p class=\"note\">Rows per token count (the build's <code>--tokenizer</code>), bins doubling in width.</p>");
        let labels: Vec<String> = (0..tok.len()).map(svg::log2_label).collect();
        let values: Vec<Vec<u64>> = tok.iter().map(|b| b.to_vec()).collect();
        h.push_str(&svg::histogram(
            &labels,
            &values,
            &[("input tokens", colour(2)), ("output tokens", colour(4))],
        ));
    }
}

/// What each quality stage removed, and the samples in and out of each stage.
fn quality(h: &mut String, scan: &Scan, tasks: &[(&String, &medsins_output::TaskStats)]) {
    h.push_str("<h2 id=\"quality\">What each quality stage removed, and why</h2><p class=\"note\">Entries of <code>ledger.parquet</code> by stage and reason; a reason ending in <code>_flag</code> marks a sample that is kept (docs/data-quality.md).</p>");
    let bars: Vec<Bar> = scan
        .ledger
        .iter()
        .map(|((stage, reason), n)| Bar {
            label: format!("{stage} · {reason}"),
            value: *n,
            colour: if reason.ends_with("_flag") {
                colour(5)
            } else {
                colour(3)
            },
            title: String::new(),
        })
        .collect();
    if bars.is_empty() {
        h.push_str("<p>Nothing was removed or flagged.</p>");
    } else {
        h.push_str(&svg::hbars(&bars, true, 300));
        let rows: Vec<Vec<String>> = scan
            .ledger
            .iter()
            .map(|((stage, reason), n)| {
                vec![
                    stage.clone(),
                    reason.clone(),
                    reason_text(reason).to_string(),
                    thousands(*n),
                ]
            })
            .collect();
        h.push_str(&table(&["stage", "reason", "meaning", "entries"], &rows, 3));
    }
    let mut stage_rows: BTreeMap<String, (u64, u64, usize)> = BTreeMap::new();
    for (_, t) in tasks {
        for (i, (stage, a, b)) in t.stages.iter().enumerate() {
            let e = stage_rows.entry(stage.clone()).or_insert((0, 0, i));
            e.0 += a;
            e.1 += b;
            e.2 = e.2.min(i);
        }
    }
    let mut stage_rows: Vec<(String, (u64, u64, usize))> = stage_rows.into_iter().collect();
    stage_rows.sort_by_key(|(s, (_, _, i))| (*i, s.clone()));
    let rows: Vec<Vec<String>> = stage_rows
        .iter()
        .map(|(s, (a, b, _))| {
            vec![
                s.clone(),
                thousands(*a),
                thousands(*b),
                thousands(a.saturating_sub(*b)),
            ]
        })
        .collect();
    h.push_str("<p class=\"note\">Samples in and out of each stage, summed over tasks:</p>");
    h.push_str(&table(&["stage", "in", "out", "removed"], &rows, 1));
}

/// Near-duplicate cluster sizes.
fn clusters(h: &mut String, scan: &Scan) {
    h.push_str("<h2 id=\"near-duplicates\">Near-duplicate clusters</h2>");
    if scan.clusters.is_empty() {
        h.push_str("<p>No near-duplicate cluster.</p>");
    } else {
        let labels: Vec<String> = scan
            .clusters
            .keys()
            .map(|k| format!("{k} samples"))
            .collect();
        let values: Vec<Vec<u64>> = scan.clusters.values().map(|v| vec![*v]).collect();
        h.push_str("<p class=\"note\">Clusters per size (the representative and the samples flagged or removed with it).</p>");
        h.push_str(&svg::histogram(
            &labels,
            &values,
            &[("clusters", colour(6))],
        ));
    }
}

/// Rows per access class and per licence.
fn licences(h: &mut String, dir: &BuildDir) {
    let st = &dir.stats;
    h.push_str("<h2 id=\"licences\">Licence and access mix</h2><p class=\"note\">Rows per access class:</p>");
    let access_colour = |a: &str| match a {
        "public" => colour(2),
        "registration" => colour(5),
        _ => colour(3),
    };
    let parts: Vec<(String, u64, &'static str)> = st
        .per_access
        .iter()
        .map(|(a, n)| (a.clone(), *n, access_colour(a)))
        .collect();
    h.push_str(&svg::share_bar(&parts, true));
    h.push_str("<p class=\"note\">Rows per licence (as the corpora's manifests state them):</p>");
    let mut lic: Vec<(&String, &u64)> = st.per_license.iter().collect();
    lic.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<(String, u64, &'static str)> = lic
        .iter()
        .enumerate()
        .map(|(i, (l, n))| ((*l).clone(), **n, colour(i + 7)))
        .collect();
    h.push_str(&svg::share_bar(&parts, false));
    let total = st.samples.max(1) as f64;
    h.push_str("<table><tr><th></th><th>licence</th><th>rows</th><th>share</th></tr>");
    for (l, n, c) in &parts {
        let _ = write!(
            h,
            "<tr><td style=\"background:{c};width:14px\"></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1} %</td></tr>",
            esc(l),
            thousands(*n),
            *n as f64 * 100.0 / total
        );
    }
    h.push_str("</table>");
}

/// The semantic checks of `checks.json`.
fn checks(h: &mut String, dir: &BuildDir) -> Result<(), PublishError> {
    h.push_str("<h2 id=\"checks\">Semantic checks</h2>");
    match dir.checks()? {
        Some(c) => {
            let results = c
                .get("results")
                .and_then(|r| r.as_array())
                .cloned()
                .unwrap_or_default();
            let _ = write!(
                h,
                "<p>{} samples of {} tasks checked; {} failing (task, check) pairs, {} unexpected.</p>",
                thousands(
                    c.get("samples_checked")
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0)
                ),
                thousands(c.get("tasks_checked").and_then(|v| v.as_u64()).unwrap_or(0)),
                c.get("failing").and_then(|v| v.as_u64()).unwrap_or(0),
                c.get("unexpected").and_then(|v| v.as_u64()).unwrap_or(0)
            );
            let rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| {
                    let g = |k: &str| {
                        r.get(k)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    vec![
                        g("task_id"),
                        g("check"),
                        if r.get("expected").and_then(|v| v.as_bool()).unwrap_or(false) {
                            "expected".into()
                        } else {
                            "unexpected".into()
                        },
                        r.get("count")
                            .and_then(|v| v.as_u64())
                            .map(thousands)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                h.push_str(&table(&["task", "check", "status", "samples"], &rows, 3));
            }
        }
        None => h.push_str("<p>No <code>checks.json</code> in this build.</p>"),
    }
    Ok(())
}

/// Writes the report of `dir` to `file`.
pub fn write(dir: &BuildDir, file: &Path) -> Result<(), PublishError> {
    let html = render(dir)?;
    std::fs::write(file, html).map_err(io_err(file))
}
