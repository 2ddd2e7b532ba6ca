//! Shingle sets kept for exact Jaccard comparisons: in memory for in-memory task runs, in a
//! file otherwise (8 bytes a shingle on disk, 12 bytes a set in memory), so confirming a
//! candidate pair reads two sorted sets instead of re-reading and re-shingling two texts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

pub enum SetStore {
    Memory(Vec<Vec<u64>>),
    File {
        path: PathBuf,
        writer: Option<BufWriter<File>>,
        reader: Option<File>,
        /// (offset, length in shingles) of every set
        index: Vec<(u64, u32)>,
        len: u64,
    },
}

impl SetStore {
    pub fn memory() -> SetStore {
        SetStore::Memory(Vec::new())
    }

    pub fn file(path: PathBuf) -> Result<SetStore, String> {
        let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(SetStore::File {
            path,
            writer: Some(BufWriter::with_capacity(1 << 20, f)),
            reader: None,
            index: Vec::new(),
            len: 0,
        })
    }

    /// Appends a sorted set; returns its number.
    pub fn push(&mut self, set: &[u64]) -> Result<u32, String> {
        match self {
            SetStore::Memory(v) => {
                v.push(set.to_vec());
                Ok(v.len() as u32 - 1)
            }
            SetStore::File {
                path,
                writer,
                index,
                len,
                ..
            } => {
                let w = writer
                    .as_mut()
                    .ok_or_else(|| format!("{}: set store already sealed", path.display()))?;
                for x in set {
                    w.write_all(&x.to_le_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                index.push((*len, set.len() as u32));
                *len += 8 * set.len() as u64;
                Ok(index.len() as u32 - 1)
            }
        }
    }

    /// Ends writing; sets can then be read.
    pub fn seal(&mut self) -> Result<(), String> {
        if let SetStore::File {
            path,
            writer,
            reader,
            ..
        } = self
        {
            if let Some(mut w) = writer.take() {
                w.flush().map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if reader.is_none() {
                *reader = Some(File::open(&*path).map_err(|e| format!("{}: {e}", path.display()))?);
            }
        }
        Ok(())
    }

    pub fn get(&self, i: u32) -> Result<Vec<u64>, String> {
        match self {
            SetStore::Memory(v) => v
                .get(i as usize)
                .cloned()
                .ok_or_else(|| format!("no shingle set {i}")),
            SetStore::File {
                path,
                reader,
                index,
                ..
            } => {
                let f = reader
                    .as_ref()
                    .ok_or_else(|| format!("{}: set store read before sealed", path.display()))?;
                let &(at, n) = index
                    .get(i as usize)
                    .ok_or_else(|| format!("{}: no shingle set {i}", path.display()))?;
                let mut bytes = vec![0u8; 8 * n as usize];
                crate::spill::read_exact_at(f, &mut bytes, at)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_in_memory_and_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        for mut s in [
            SetStore::memory(),
            SetStore::file(tmp.path().join("s")).unwrap(),
        ] {
            let a = s.push(&[1, 5, u64::MAX]).unwrap();
            let b = s.push(&[]).unwrap();
            let c = s.push(&[7]).unwrap();
            s.seal().unwrap();
            assert_eq!(s.get(a).unwrap(), [1, 5, u64::MAX]);
            assert!(s.get(b).unwrap().is_empty());
            assert_eq!(s.get(c).unwrap(), [7]);
            assert!(s.get(9).is_err());
        }
    }
}
