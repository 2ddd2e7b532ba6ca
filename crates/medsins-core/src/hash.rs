//! Content hashing: file and record checksums, stable sample ids, seeded choices.

use sha2::{Digest, Sha256};

/// Lower-case hex of any byte string (sha2 0.11 digests no longer format with `{:x}`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

/// An `io::Write` that hashes what passes through it (used to checksum streamed files).
#[derive(Default)]
pub struct Sha256Writer {
    hasher: Sha256,
    pub bytes: u64,
}

impl Sha256Writer {
    pub fn finish_hex(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A deterministic number in `[0, 1)` from a seed, a purpose and a key (xxh3, stable across
/// platforms and versions of this crate). Used for hash splits and instruction choice.
pub fn seeded_unit(seed: u64, purpose: &str, key: &str) -> f64 {
    let mut buf = Vec::with_capacity(purpose.len() + key.len() + 1);
    buf.extend_from_slice(purpose.as_bytes());
    buf.push(0);
    buf.extend_from_slice(key.as_bytes());
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(&buf, seed);
    // 53 high bits give an exactly representable double in [0, 1).
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_unit_is_in_range_and_seed_sensitive() {
        let a = seeded_unit(0, "split", "k");
        assert!((0.0..1.0).contains(&a));
        assert_eq!(a, seeded_unit(0, "split", "k"));
        assert_ne!(a, seeded_unit(1, "split", "k"));
        assert_ne!(a, seeded_unit(0, "instruction", "k"));
    }

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
