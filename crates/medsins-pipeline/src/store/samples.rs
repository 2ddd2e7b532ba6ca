//! A task's samples, in the order they were pushed: in memory, or spilled to a
//! [`FramedFile`].
//!
//! Spill record: `u32` file number, `u64` record number, the id (16 bytes), then the input,
//! output, source file, source locator and raw SHA-256, each as `u32` length + UTF-8. The split
//! is not stored: it lives with the handle (`Kept`).

use super::{FramedFile, READ_BATCH, StoreError};
use medsins_core::{Sample, SampleId};

pub enum Store {
    Memory(Vec<Sample>),
    Spill(FramedFile),
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn encode(s: &Sample, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&s.order.0.to_le_bytes());
    buf.extend_from_slice(&s.order.1.to_le_bytes());
    buf.extend_from_slice(&s.id.as_u128().to_le_bytes());
    for f in [
        &s.input,
        &s.output,
        &s.source_file,
        &s.source_locator,
        &s.raw_sha256,
    ] {
        put_str(buf, f);
    }
}

fn decode(body: &[u8]) -> Option<Sample> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = body.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let file = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let rec = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let id = SampleId::from_u128(u128::from_le_bytes(take(16)?.try_into().ok()?));
    let mut text = || -> Option<String> {
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        String::from_utf8(take(n)?.to_vec()).ok()
    };
    Some(Sample {
        id,
        input: text()?,
        output: text()?,
        source_file: text()?,
        source_locator: text()?,
        raw_sha256: text()?,
        instruction: String::new(),
        instruction_id: 0,
        split: None,
        group_key: String::new(),
        order: (file, rec),
    })
}

impl Store {
    /// Appends a sample; returns the handle that reads it back. `buf` is scratch space kept by
    /// the caller between pushes.
    pub fn push(&mut self, s: Sample, buf: &mut Vec<u8>) -> Result<u64, StoreError> {
        match self {
            Store::Memory(v) => {
                v.push(s);
                Ok(v.len() as u64 - 1)
            }
            Store::Spill(f) => {
                encode(&s, buf);
                f.push(buf)
            }
        }
    }

    /// Samples pushed so far.
    pub fn records(&self) -> u64 {
        match self {
            Store::Memory(v) => v.len() as u64,
            Store::Spill(f) => f.records(),
        }
    }

    /// Ends writing (a spill is flushed and opened for reading).
    pub fn seal(&mut self) -> Result<(), StoreError> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Spill(f) => f.seal(),
        }
    }

    /// One sample, by handle (the store must be sealed).
    pub fn get(&self, h: u64) -> Result<Sample, StoreError> {
        match self {
            Store::Memory(v) => v.get(h as usize).cloned().ok_or(StoreError::NoRecord(h)),
            Store::Spill(f) => decode(&f.get(h)?).ok_or_else(|| f.corrupt(h)),
        }
    }

    /// The samples at `handles` (in increasing order), in batches of [`READ_BATCH`].
    pub fn for_each<E: From<StoreError>>(
        &self,
        handles: &[u64],
        f: &mut dyn FnMut(Vec<Sample>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Store::Memory(v) => {
                for chunk in handles.chunks(READ_BATCH) {
                    let batch = chunk
                        .iter()
                        .map(|h| v.get(*h as usize).cloned().ok_or(StoreError::NoRecord(*h)))
                        .collect::<Result<Vec<Sample>, StoreError>>()?;
                    f(batch)?;
                }
                Ok(())
            }
            Store::Spill(s) => s.for_each(
                handles,
                |body, at| decode(body).ok_or_else(|| s.corrupt(at)),
                f,
            ),
        }
    }

    /// The samples at `handles`, taken out of the store (previews, audits).
    pub fn take(self, handles: &[u64]) -> Result<Vec<Sample>, StoreError> {
        match self {
            Store::Memory(mut v) => handles
                .iter()
                .map(|h| {
                    v.get_mut(*h as usize)
                        .map(std::mem::take)
                        .ok_or(StoreError::NoRecord(*h))
                })
                .collect(),
            Store::Spill(_) => {
                let mut out = Vec::with_capacity(handles.len());
                self.for_each(handles, &mut |b| {
                    out.extend(b);
                    Ok::<(), StoreError>(())
                })?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u64, text: &str) -> Sample {
        Sample {
            id: SampleId::from_u128(i as u128),
            instruction: String::new(),
            instruction_id: 0,
            input: text.into(),
            output: format!("out {i}"),
            split: None,
            source_file: "f.jsonl".into(),
            source_locator: format!("line {i}"),
            raw_sha256: "ab".repeat(32),
            group_key: String::new(),
            order: (1, i),
        }
    }

    #[test]
    fn spill_round_trips_random_and_sequential_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::Spill(FramedFile::create(tmp.path().join("t.spill")).unwrap());
        let mut buf = Vec::new();
        let hs: Vec<u64> = (0..5000)
            .map(|i| {
                s.push(sample(i, &"é".repeat(i as usize % 7)), &mut buf)
                    .unwrap()
            })
            .collect();
        s.seal().unwrap();
        assert_eq!(
            s.get(hs[4321]).unwrap(),
            sample(4321, &"é".repeat(4321 % 7))
        );
        let every_third: Vec<u64> = hs.iter().copied().step_by(3).collect();
        let mut got = Vec::new();
        s.for_each(&every_third, &mut |b| {
            assert!(b.len() <= READ_BATCH);
            got.extend(b.into_iter().map(|x| x.order.1));
            Ok::<(), StoreError>(())
        })
        .unwrap();
        assert_eq!(got, (0..5000).step_by(3).collect::<Vec<u64>>());
    }

    #[test]
    fn reading_before_sealing_or_out_of_order_is_an_error_not_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::Spill(FramedFile::create(tmp.path().join("t.spill")).unwrap());
        let a = s.push(sample(1, "a"), &mut Vec::new()).unwrap();
        let b = s.push(sample(2, "b"), &mut Vec::new()).unwrap();
        assert!(
            s.get(a)
                .unwrap_err()
                .to_string()
                .ends_with("read before it was sealed")
        );
        s.seal().unwrap();
        let err = s
            .for_each(&[b, a], &mut |_| Ok::<(), StoreError>(()))
            .unwrap_err();
        assert!(err.to_string().ends_with("read out of order"), "{err}");
        assert!(matches!(
            Store::Memory(Vec::new()).get(3),
            Err(StoreError::NoRecord(3))
        ));
    }
}
