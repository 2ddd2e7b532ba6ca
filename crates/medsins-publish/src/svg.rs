//! Inline SVG charts for the report: horizontal bars, grouped histograms and 100 % bars.
//! Plain SVG elements with `<title>` tooltips; no script, no external resource.

use std::fmt::Write;

/// Distinct colours, assigned in order.
pub const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#d62728",
    "#2ca02c", "#9467bd", "#e377c2",
];

pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text for an HTML or SVG text node or attribute.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// 1536 → "1.5k", 2_000_000 → "2M".
pub fn compact(n: u64) -> String {
    let f = |x: f64, unit: &str| {
        let s = format!("{x:.1}");
        format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => f(n as f64 / 1e3, "k"),
        1_000_000..1_000_000_000 => f(n as f64 / 1e6, "M"),
        _ => f(n as f64 / 1e9, "G"),
    }
}

/// One bar of [`hbars`].
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub colour: &'static str,
    /// Tooltip; the label and value when empty.
    pub title: String,
}

/// Horizontal bars, one per row, longest scale = the largest value; `log` scales lengths by
/// log10(1 + value) so bars of 10 and 1,000,000 rows are both visible.
pub fn hbars(bars: &[Bar], log: bool, label_width: u32) -> String {
    let (row, width) = (18u32, 900u32);
    let plot = width - label_width - 90;
    let height = row * bars.len().max(1) as u32 + 8;
    let scale = |v: u64| -> f64 {
        if log {
            (1.0 + v as f64).log10()
        } else {
            v as f64
        }
    };
    let max = bars
        .iter()
        .map(|b| scale(b.value))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" class="chart">"#
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + row * i as u32;
        let w = (scale(b.value) / max * plot as f64)
            .round()
            .max(if b.value > 0 { 1.0 } else { 0.0 });
        let title = if b.title.is_empty() {
            format!("{}: {}", b.label, thousands(b.value))
        } else {
            b.title.clone()
        };
        let _ = write!(
            s,
            r#"<g><title>{}</title><text x="{}" y="{}" text-anchor="end" class="lbl">{}</text><rect x="{label_width}" y="{}" width="{w}" height="{}" fill="{}"/><text x="{}" y="{}" class="val">{}</text></g>"#,
            esc(&title),
            label_width - 6,
            y + 13,
            esc(&b.label),
            y + 2,
            row - 4,
            b.colour,
            label_width as f64 + w + 4.0,
            y + 13,
            thousands(b.value)
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars per bin, one bar per series side by side (`values[bin][series]`), with a
/// legend; heights are linear in the value.
pub fn histogram(bins: &[String], values: &[Vec<u64>], series: &[(&str, &'static str)]) -> String {
    let (width, height, left, bottom, top) = (900u32, 260u32, 60u32, 50u32, 28u32);
    let plot_w = width - left - 10;
    let plot_h = height - bottom - top;
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let slot = plot_w as f64 / bins.len().max(1) as f64;
    let bar = (slot * 0.8 / series.len().max(1) as f64).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" class="chart">"#
    );
    // legend
    let mut x = left as f64;
    for (name, c) in series {
        let _ = write!(
            s,
            r#"<rect x="{x}" y="6" width="12" height="12" fill="{c}"/><text x="{}" y="16" class="lbl">{}</text>"#,
            x + 16.0,
            esc(name)
        );
        x += 24.0 + 8.0 * name.chars().count() as f64;
    }
    // axis: 0 and the maximum
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" class="axis"/><text x="{}" y="{}" text-anchor="end" class="val">0</text><text x="{}" y="{}" text-anchor="end" class="val">{}</text>"#,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        left - 4,
        top + plot_h,
        left - 4,
        top + 10,
        compact(max)
    );
    for (i, label) in bins.iter().enumerate() {
        let x0 = left as f64 + slot * i as f64 + slot * 0.1;
        for (k, (name, c)) in series.iter().enumerate() {
            let v = values.get(i).and_then(|v| v.get(k)).copied().unwrap_or(0);
            let h = (v as f64 / max as f64 * plot_h as f64).round();
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{}" width="{:.1}" height="{h}" fill="{c}"><title>{}: {}: {}</title></rect>"#,
                x0 + bar * k as f64,
                (top + plot_h) as f64 - h,
                bar,
                esc(name),
                esc(label),
                thousands(v)
            );
        }
        let cx = left as f64 + slot * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{}" text-anchor="end" transform="rotate(-35 {cx:.1} {})" class="val">{}</text>"#,
            top + plot_h + 14,
            top + plot_h + 14,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

/// One horizontal 100 % bar split into parts, with a legend under it (three columns: for
/// short labels) or none (the caller lists the parts).
pub fn share_bar(parts: &[(String, u64, &'static str)], legend: bool) -> String {
    let width = 900u32;
    let total: u64 = parts.iter().map(|p| p.1).sum::<u64>().max(1);
    let legend_rows = if legend {
        parts.len().div_ceil(3) as u32
    } else {
        0
    };
    let height = 40 + 18 * legend_rows;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" class="chart">"#
    );
    let mut x = 0.0f64;
    for (label, v, c) in parts {
        let w = *v as f64 / total as f64 * width as f64;
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="4" width="{w:.1}" height="24" fill="{c}"><title>{}: {} ({:.1} %)</title></rect>"#,
            esc(label),
            thousands(*v),
            *v as f64 * 100.0 / total as f64
        );
        x += w;
    }
    for (i, (label, v, c)) in parts.iter().enumerate().filter(|_| legend) {
        let (col, line) = ((i % 3) as u32, (i / 3) as u32);
        let (lx, ly) = (col * 300, 36 + 18 * line);
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{ly}" width="12" height="12" fill="{c}"/><text x="{}" y="{}" class="lbl">{} — {} ({:.1} %)</text>"#,
            lx + 16,
            ly + 10,
            esc(label),
            thousands(*v),
            *v as f64 * 100.0 / total as f64
        );
    }
    s.push_str("</svg>");
    s
}

/// Log2 bins of lengths: bin k holds [2^k, 2^(k+1)), bin 0 also holds 0.
pub fn log2_bin(v: u64) -> usize {
    if v <= 1 {
        0
    } else {
        63 - v.leading_zeros() as usize
    }
}

/// The label of [`log2_bin`] `k`.
pub fn log2_label(k: usize) -> String {
    if k == 0 {
        return "0–1".into();
    }
    format!("{}–{}", compact(1 << k), compact((1u64 << (k + 1)) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bins() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(compact(1536), "1.5k");
        assert_eq!(compact(2_000_000), "2M");
        assert_eq!(
            (
                log2_bin(0),
                log2_bin(1),
                log2_bin(2),
                log2_bin(1023),
                log2_bin(1024)
            ),
            (0, 0, 1, 9, 10)
        );
        assert_eq!(log2_label(10), "1k–2k");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = hbars(
            &[
                Bar {
                    label: "a".into(),
                    value: 100,
                    colour: colour(0),
                    title: String::new(),
                },
                Bar {
                    label: "b".into(),
                    value: 50,
                    colour: colour(1),
                    title: String::new(),
                },
            ],
            false,
            200,
        );
        // plot width 900 - 200 - 90 = 610: 100 → 610, 50 → 305
        assert!(
            svg.contains(r##"width="610" height="14" fill="#4e79a7""##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"width="305" height="14" fill="#f28e2b""##),
            "{svg}"
        );
    }
}
