//! Bounds on what one raw file can make a reader do: how deep its values nest, how large one
//! record is, how much a compressed file expands. A file past a bound is refused with a
//! [`ReadError::Limit`](crate::ReadError::Limit) naming the file, the bound and the
//! `medsins build` flag that raises it; the defaults are far above any real release
//! (docs/safety.md gives the measurements behind them).

use serde_json::{Map, Value};

/// Bounds that cannot be used, or a byte count that does not parse; the message names the flag
/// or the lock option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("the lock's option `{key}` = {value} is not a number")]
    NotANumber { key: &'static str, value: String },
    #[error(
        "--max-depth must be between 1 and {MAX_DEPTH_CEILING} (default {default}): deeper values would exhaust a worker thread's stack"
    )]
    Depth { default: usize },
    #[error("{flag} must be at least 1 (default {default})")]
    Zero { flag: &'static str, default: String },
    #[error("`{0}` is not a byte count: write e.g. 1048576, 64MiB or 16GiB")]
    NotAByteCount(String),
}

/// The bounds every reader keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Deepest nesting of XML elements, JSON arrays and objects, and Python literal lists,
    /// tuples and dicts (`--max-depth`).
    pub max_depth: usize,
    /// Largest record, in raw bytes: a CSV row, a JSON Lines line, an XML record element, an
    /// IOB sentence, one text file (`--max-record-bytes`).
    pub max_record_bytes: u64,
    /// Largest decompressed size of a gzip file or zip member, and of all the parts of an XLSX
    /// workbook together (`--max-decompressed-bytes`).
    pub max_decompressed_bytes: u64,
    /// Largest expansion of compressed data: decompressed bytes over the compressed bytes read
    /// so far, checked once [`RATIO_FREE_BYTES`] have come out (`--max-decompression-ratio`).
    pub max_decompression_ratio: u64,
}

/// Decompressed bytes always allowed before the ratio is checked: small files can be very
/// compressible without being bombs.
pub const RATIO_FREE_BYTES: u64 = 64 << 20;

/// The deepest nesting `--max-depth` accepts. Values are copied, printed and freed by
/// recursive code (serde, minijinja), so nesting costs stack: 1,024 levels stay well inside the
/// 2 MiB stack of a worker thread (tested end to end), much deeper could exhaust it.
pub const MAX_DEPTH_CEILING: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_record_bytes: 32 << 20,
            max_decompressed_bytes: 16 << 30,
            max_decompression_ratio: 100,
        }
    }
}

/// One of the bounds, for messages: the flag that sets it and its value as the flag takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Depth,
    RecordBytes,
    DecompressedBytes,
    DecompressionRatio,
}

impl Limit {
    pub const ALL: [Limit; 4] = [
        Limit::Depth,
        Limit::RecordBytes,
        Limit::DecompressedBytes,
        Limit::DecompressionRatio,
    ];

    /// The `medsins build` flag.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::Depth => "--max-depth",
            Limit::RecordBytes => "--max-record-bytes",
            Limit::DecompressedBytes => "--max-decompressed-bytes",
            Limit::DecompressionRatio => "--max-decompression-ratio",
        }
    }

    /// The key under which a non-default value is recorded in the lock's options.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Depth => "max_depth",
            Limit::RecordBytes => "max_record_bytes",
            Limit::DecompressedBytes => "max_decompressed_bytes",
            Limit::DecompressionRatio => "max_decompression_ratio",
        }
    }

    fn value(self, l: &Limits) -> u64 {
        match self {
            Limit::Depth => l.max_depth as u64,
            Limit::RecordBytes => l.max_record_bytes,
            Limit::DecompressedBytes => l.max_decompressed_bytes,
            Limit::DecompressionRatio => l.max_decompression_ratio,
        }
    }

    fn set(self, l: &mut Limits, v: u64) {
        match self {
            Limit::Depth => l.max_depth = usize::try_from(v).unwrap_or(usize::MAX),
            Limit::RecordBytes => l.max_record_bytes = v,
            Limit::DecompressedBytes => l.max_decompressed_bytes = v,
            Limit::DecompressionRatio => l.max_decompression_ratio = v,
        }
    }

    /// The value as the flag takes it (`256`, `32MiB`).
    pub fn shown(self, l: &Limits) -> String {
        match self {
            Limit::RecordBytes | Limit::DecompressedBytes => show_bytes(self.value(l)),
            Limit::Depth | Limit::DecompressionRatio => self.value(l).to_string(),
        }
    }

    /// `(limit --max-depth 256); raise it with --max-depth N if the file is genuine`: the end
    /// of every message about this bound.
    pub fn advice(self, l: &Limits) -> String {
        format!(
            "(limit {flag} {v}); raise it with {flag} N if the file is genuine",
            flag = self.flag(),
            v = self.shown(l)
        )
    }
}

impl Limits {
    /// The bounds that differ from the defaults, by lock key: they change what a build reads,
    /// so the lock records them (and only them: a default build's lock is unchanged).
    pub fn locked(&self) -> Map<String, Value> {
        let default = Limits::default();
        Limit::ALL
            .into_iter()
            .filter(|k| k.value(self) != k.value(&default))
            .map(|k| (k.key().to_string(), Value::from(k.value(self))))
            .collect()
    }

    /// The bounds a lock's options record (defaults for those it does not name).
    pub fn from_locked(options: &Value) -> Result<Limits, LimitsError> {
        let mut l = Limits::default();
        for k in Limit::ALL {
            if let Some(v) = options.get(k.key()) {
                let n = v.as_u64().ok_or_else(|| LimitsError::NotANumber {
                    key: k.key(),
                    value: v.to_string(),
                })?;
                k.set(&mut l, n);
            }
        }
        l.check()?;
        Ok(l)
    }

    /// Refuses bounds a build cannot honour safely.
    pub fn check(&self) -> Result<(), LimitsError> {
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH_CEILING {
            return Err(LimitsError::Depth {
                default: Limits::default().max_depth,
            });
        }
        for k in [
            Limit::RecordBytes,
            Limit::DecompressedBytes,
            Limit::DecompressionRatio,
        ] {
            if k.value(self) == 0 {
                return Err(LimitsError::Zero {
                    flag: k.flag(),
                    default: k.shown(&Limits::default()),
                });
            }
        }
        Ok(())
    }
}

const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];

/// A byte count as the flags take it: the largest binary unit it is a whole multiple of
/// (`32MiB`, `16GiB`), else plain bytes.
pub fn show_bytes(n: u64) -> String {
    for (unit, shift) in UNITS {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Parses a byte count: plain bytes (`1048576`) or a whole number of KiB, MiB, GiB or TiB
/// (`64MiB`; the unit is case-insensitive).
pub fn parse_bytes(s: &str) -> Result<u64, LimitsError> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let bad = || LimitsError::NotAByteCount(s.to_string());
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = if unit.is_empty() {
        0
    } else {
        UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit.trim()))
            .map(|(_, s)| *s)
            .ok_or_else(bad)?
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Line and column (both from 1; the column counts characters) of a byte offset.
pub(crate) fn line_column(data: &[u8], offset: usize) -> (usize, usize) {
    let before = &data[..offset.min(data.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before[line_start..]
        .iter()
        .filter(|b| (**b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_round_trip_through_the_flags() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("16gib"), Ok(16 << 30));
        assert_eq!(parse_bytes("2 KiB"), Ok(2048));
        assert_eq!(
            parse_bytes("12MB"),
            Err(LimitsError::NotAByteCount("12MB".into()))
        );
        assert!(parse_bytes("99999999999TiB").is_err());
        assert_eq!(show_bytes(32 << 20), "32MiB");
        assert_eq!(show_bytes(16 << 30), "16GiB");
        assert_eq!(show_bytes(1000), "1000");
        assert_eq!(show_bytes(3 << 10), "3KiB");
    }

    #[test]
    fn only_non_default_limits_are_locked_and_read_back() {
        assert!(Limits::default().locked().is_empty());
        let raised = Limits {
            max_depth: 512,
            ..Limits::default()
        };
        let locked = Value::Object(raised.locked());
        assert_eq!(locked, serde_json::json!({"max_depth": 512}));
        assert_eq!(Limits::from_locked(&locked), Ok(raised));
        assert_eq!(
            Limits::from_locked(&serde_json::json!({"max_depth": 5000}))
                .unwrap_err()
                .to_string(),
            "--max-depth must be between 1 and 1024 (default 256): deeper values would exhaust a worker thread's stack"
        );
        assert_eq!(
            Limits::from_locked(&serde_json::json!({"max_depth": "deep"}))
                .unwrap_err()
                .to_string(),
            "the lock's option `max_depth` = \"deep\" is not a number"
        );
    }

    #[test]
    fn advice_names_the_flag_and_value() {
        let l = Limits::default();
        assert_eq!(
            Limit::RecordBytes.advice(&l),
            "(limit --max-record-bytes 32MiB); raise it with --max-record-bytes N if the file is genuine"
        );
    }

    #[test]
    fn line_and_column_count_characters() {
        let d = "ab\nçd<x>".as_bytes();
        assert_eq!(line_column(d, 0), (1, 1));
        assert_eq!(line_column(d, 3), (2, 1));
        assert_eq!(line_column(d, 6), (2, 3));
    }
}
