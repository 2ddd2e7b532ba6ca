//! The stable id of a sample.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The stable id of a sample: the first 128 bits of
/// `sha256("medsins-sample-v1" 0x00 task_id 0x00 input 0x00 output)`, written as 32 lower-case
/// hex digits.
///
/// It depends only on the task and the sample's normalised content, so it survives re-runs,
/// thread counts, record order and edits to unrelated manifests; two records that render to the
/// same sample get the same id, which is what makes exact deduplication a grouping by id.
/// The instruction is deliberately not part of it: the instruction is chosen *from* the id.
/// Ids order as their hex texts do, so "the smallest id" means the same in memory and on disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SampleId(u128);

impl SampleId {
    /// The id a rendered sample has until normalisation derives its real one.
    pub const UNDERIVED: SampleId = SampleId(0);

    pub fn derive(task_id: &str, input: &str, output: &str) -> SampleId {
        SampleId::of(b"medsins-sample-v1", task_id, input, output)
    }

    /// The id of the `repeat`-th later copy (1, 2, …) of a sample, for builds that keep exact
    /// duplicates (`--profile upstream` reproduces scripts that never deduplicated): the hash
    /// of `"medsins-sample-v1#" repeat 0x00 task_id 0x00 input 0x00 output`, so every row of
    /// the output keeps a unique id while the first copy keeps [`SampleId::derive`]'s.
    pub fn derive_repeat(task_id: &str, input: &str, output: &str, repeat: u64) -> SampleId {
        let prefix = format!("medsins-sample-v1#{repeat}");
        SampleId::of(prefix.as_bytes(), task_id, input, output)
    }

    fn of(prefix: &[u8], task_id: &str, input: &str, output: &str) -> SampleId {
        let mut h = Sha256::new();
        h.update(prefix);
        h.update([0u8]);
        h.update(task_id.as_bytes());
        h.update([0u8]);
        h.update(input.as_bytes());
        h.update([0u8]);
        h.update(output.as_bytes());
        let d: [u8; 32] = h.finalize().into();
        let mut first = [0u8; 16];
        first.copy_from_slice(&d[..16]);
        SampleId(u128::from_be_bytes(first))
    }

    pub fn from_u128(bits: u128) -> SampleId {
        SampleId(bits)
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// False for [`SampleId::UNDERIVED`].
    pub fn is_derived(self) -> bool {
        self != SampleId::UNDERIVED
    }
}

impl std::fmt::Display for SampleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::fmt::Debug for SampleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SampleId({self})")
    }
}

/// A text that is not a sample id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a sample id (32 hexadecimal characters, lower-case)")]
pub struct BadSampleId(pub String);

impl std::str::FromStr for SampleId {
    type Err = BadSampleId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match hex {
            true => u128::from_str_radix(s, 16)
                .map(SampleId)
                .map_err(|_| BadSampleId(s.to_string())),
            false => Err(BadSampleId(s.to_string())),
        }
    }
}

impl Serialize for SampleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SampleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_id_is_content_derived_and_fixed() {
        let a = SampleId::derive("task114_x", "in", "out");
        assert_eq!(a.to_string().len(), 32);
        assert_eq!(a, SampleId::derive("task114_x", "in", "out"));
        assert_ne!(a, SampleId::derive("task114_x", "in", "out "));
        assert_ne!(a, SampleId::derive("task115_x", "in", "out"));
        // field boundaries matter: ("ab","c") and ("a","bc") differ
        assert_ne!(
            SampleId::derive("t", "ab", "c"),
            SampleId::derive("t", "a", "bc")
        );
        // pinned value: changing the formula is a breaking change for every published id
        assert_eq!(
            SampleId::derive("t", "i", "o").to_string(),
            "2e32cb52b20666d553670710a4ef5c5f"
        );
    }

    #[test]
    fn repeats_get_their_own_ids_and_the_first_copy_keeps_the_usual_one() {
        let first = SampleId::derive("t", "i", "o");
        let r1 = SampleId::derive_repeat("t", "i", "o", 1);
        let r2 = SampleId::derive_repeat("t", "i", "o", 2);
        assert!(first != r1 && r1 != r2 && first != r2);
        assert_eq!(r1, SampleId::derive_repeat("t", "i", "o", 1));
        assert_ne!(r1, SampleId::derive_repeat("t", "i", "o ", 1));
    }

    #[test]
    fn ids_parse_back_and_order_as_their_texts() {
        let a: SampleId = "00000000000000000000000000000abc".parse().unwrap();
        let b: SampleId = "f0000000000000000000000000000000".parse().unwrap();
        assert!(a < b && a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<SampleId>(), Ok(a));
        for bad in [
            "abc",
            "F0000000000000000000000000000000",
            "+0000000000000000000000000000abc",
        ] {
            assert_eq!(
                bad.parse::<SampleId>().unwrap_err().to_string(),
                format!("`{bad}` is not a sample id (32 hexadecimal characters, lower-case)")
            );
        }
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"00000000000000000000000000000abc\""
        );
    }
}
