//! Shingle sets kept for exact Jaccard comparisons: in memory for in-memory task runs, in a
//! [`FramedFile`] otherwise (8 bytes a shingle on disk, 8 bytes a set in memory), so confirming
//! a candidate pair reads two sorted sets instead of re-reading and re-shingling two texts.

use super::{FramedFile, StoreError};
use std::path::PathBuf;

pub enum SetStore {
    Memory(Vec<Vec<u64>>),
    File {
        file: FramedFile,
        /// the handle of every set
        handles: Vec<u64>,
    },
}

impl SetStore {
    pub fn memory() -> SetStore {
        SetStore::Memory(Vec::new())
    }

    pub fn file(path: PathBuf) -> Result<SetStore, StoreError> {
        Ok(SetStore::File {
            file: FramedFile::create(path)?,
            handles: Vec::new(),
        })
    }

    /// An existing file of sets, sealed, with the handle of every set (a unit's held-out sets
    /// in the build cache).
    pub fn open(path: PathBuf, handles: Vec<u64>) -> Result<SetStore, StoreError> {
        Ok(SetStore::File {
            file: FramedFile::open(path, handles.len() as u64)?,
            handles,
        })
    }

    /// The handle of every set of a file store (what [`SetStore::open`] takes back); `None` in
    /// memory.
    pub fn handles(&self) -> Option<&[u64]> {
        match self {
            SetStore::Memory(_) => None,
            SetStore::File { handles, .. } => Some(handles),
        }
    }

    /// Appends a sorted set; returns its number.
    pub fn push(&mut self, set: &[u64]) -> Result<u32, StoreError> {
        match self {
            SetStore::Memory(v) => {
                v.push(set.to_vec());
                Ok(v.len() as u32 - 1)
            }
            SetStore::File { file, handles } => {
                let bytes: Vec<u8> = set.iter().flat_map(|x| x.to_le_bytes()).collect();
                handles.push(file.push(&bytes)?);
                Ok(handles.len() as u32 - 1)
            }
        }
    }

    /// Ends writing; sets can then be read.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        match self {
            SetStore::Memory(_) => Ok(()),
            SetStore::File { file, .. } => file.seal(),
        }
    }

    pub fn get(&self, i: u32) -> Result<Vec<u64>, StoreError> {
        match self {
            SetStore::Memory(v) => v
                .get(i as usize)
                .cloned()
                .ok_or(StoreError::NoRecord(i as u64)),
            SetStore::File { file, handles } => {
                let h = *handles
                    .get(i as usize)
                    .ok_or(StoreError::NoRecord(i as u64))?;
                let bytes = file.get(h)?;
                if bytes.len() % 8 != 0 {
                    return Err(file.corrupt(h));
                }
                Ok(bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
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

    #[test]
    fn a_sealed_file_reopens_with_its_handles() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s");
        let mut s = SetStore::file(path.clone()).unwrap();
        s.push(&[3, 4]).unwrap();
        s.push(&[9]).unwrap();
        s.seal().unwrap();
        let handles = s.handles().unwrap().to_vec();
        drop(s);
        let again = SetStore::open(path, handles).unwrap();
        assert_eq!(again.get(1).unwrap(), [9]);
        assert_eq!(again.get(0).unwrap(), [3, 4]);
        assert!(SetStore::memory().handles().is_none());
    }
}
