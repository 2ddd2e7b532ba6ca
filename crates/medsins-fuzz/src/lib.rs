//! Test support for the fuzz tests of the readers, the manifest loader and the Python literal
//! parser (not part of a medsins build).
//!
//! Inputs are real examples (the fixtures) mutated by a few edits — bit flips, inserted or
//! deleted bytes, a chunk copied elsewhere, a truncation, a structural token (`<a>`, `[`, a
//! quote, a line feed…) repeated up to thousands of times to build nesting and runaway records
//! — or, one time in ten, random bytes. [`run`] runs a property over them with proptest on a
//! thread with the 2 MiB stack of a worker thread (so unbounded recursion aborts the test
//! instead of passing on the main thread's larger stack), from a fixed seed unless
//! `MEDSINS_FUZZ_SEED` gives another, and reports the minimal failing input (and writes it to a
//! file, to replay). `MEDSINS_FUZZ_ONLY` restricts a run to the targets whose name contains it.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Tokens whose repetition makes the inputs readers find hardest: nesting in every syntax,
/// unclosed quotes and sections, separators, entities, byte-order marks, invalid UTF-8.
const TOKENS: &[&[u8]] = &[
    b"<a>",
    b"</a>",
    b"<a/>",
    b"[",
    b"]",
    b"{\"a\": ",
    b"{",
    b"(",
    b"\"",
    b"'",
    b"\\",
    b"\n",
    b"\r\n",
    b"\r",
    b",",
    b"\t",
    b" ",
    b"&amp;",
    b"&#x1F600;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-DOCSTART-\tO\n",
    b"[Term]\n",
    b"|t|",
    b"|a|",
    b"T1\tX 0 5\tabc\n",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\x00",
    b"\xE2\x82",
];

/// One edit of an input. Positions are fractions of the input's length (`u16` / 65,536), so
/// an edit means the same for any seed.
#[derive(Debug, Clone)]
enum Edit {
    Flip(u16, u8),
    Byte(u16, u8),
    Insert(u16, Vec<u8>),
    Delete(u16, u16),
    Copy { from: u16, len: u16, to: u16 },
    Repeat { at: u16, token: usize, times: u16 },
    Truncate(u16),
}

fn at(pos: u16, len: usize) -> usize {
    (pos as usize * len) >> 16
}

impl Edit {
    fn apply(&self, d: &mut Vec<u8>) {
        let n = d.len();
        match self {
            Edit::Flip(p, bit) if n > 0 => d[at(*p, n)] ^= 1 << (bit % 8),
            Edit::Byte(p, b) if n > 0 => d[at(*p, n)] = *b,
            Edit::Insert(p, bytes) => {
                let i = at(*p, n + 1);
                d.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(p, len) if n > 0 => {
                let i = at(*p, n);
                let end = (i + *len as usize % 512 + 1).min(n);
                d.drain(i..end);
            }
            Edit::Copy { from, len, to } if n > 0 => {
                let i = at(*from, n);
                let chunk: Vec<u8> = d[i..(i + *len as usize % 4096 + 1).min(n)].to_vec();
                let j = at(*to, n + 1);
                d.splice(j..j, chunk);
            }
            Edit::Repeat {
                at: p,
                token,
                times,
            } => {
                let i = at(*p, n + 1);
                let t = TOKENS[token % TOKENS.len()];
                let bytes = t.repeat(*times as usize % 3000 + 1);
                d.splice(i..i, bytes);
            }
            Edit::Truncate(p) => d.truncate(at(*p, n + 1)),
            _ => {}
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<u16>(), any::<u16>()).prop_map(|(p, l)| Edit::Delete(p, l)),
        (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(from, len, to)| Edit::Copy {
            from,
            len,
            to
        }),
        (any::<u16>(), any::<usize>(), any::<u16>())
            .prop_map(|(at, token, times)| { Edit::Repeat { at, token, times } }),
        any::<u16>().prop_map(Edit::Truncate),
    ]
}

/// A fuzz input: the seed it was made from (its position; the first seed for random bytes)
/// and its bytes, shown (when a case fails) as their length and the start of their text.
#[derive(Clone)]
pub struct Input {
    pub seed: usize,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = String::from_utf8_lossy(&self.bytes)
            .chars()
            .take(2000)
            .collect();
        write!(
            f,
            "seed {}, {} bytes: {shown:?}",
            self.seed,
            self.bytes.len()
        )
    }
}

/// Inputs made from `seeds`: mostly a seed with up to six edits, sometimes random bytes.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Input> {
    assert!(!seeds.is_empty(), "a fuzz target needs at least one seed");
    let n = seeds.len();
    prop_oneof![
        9 => (0..n, prop::collection::vec(edit(), 0..6)).prop_map(move |(seed, edits)| {
            let mut bytes = seeds[seed].clone();
            for e in &edits {
                e.apply(&mut bytes);
            }
            Input { seed, bytes }
        }),
        1 => prop::collection::vec(any::<u8>(), 0..2048).prop_map(|bytes| Input { seed: 0, bytes }),
    ]
}

/// Cases per target: `MEDSINS_FUZZ_CASES` when set (the long run of `scripts/fuzz.sh`), else
/// `ci` (the short run of every `cargo test`).
pub fn cases(ci: u32) -> u32 {
    number_from_env("MEDSINS_FUZZ_CASES").unwrap_or(ci)
}

/// The random seed: `MEDSINS_FUZZ_SEED` (a number) when set, else a fixed one, so a failure in
/// CI is reproducible.
fn seed() -> u64 {
    number_from_env("MEDSINS_FUZZ_SEED").unwrap_or(0x6d65_6473_696e_7321)
}

/// A number from the environment variable `name`, when it is set. One that is not a number
/// stops the test rather than fuzz otherwise than asked.
fn number_from_env<N: std::str::FromStr>(name: &str) -> Option<N>
where
    N::Err: std::fmt::Display,
{
    let v = std::env::var(name).ok()?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(e) => panic!("{name} `{v}` is not a number: {e}"),
    }
}

/// Runs `property` over `cases` inputs from `strategy` on a 2 MiB stack. A property returns
/// `Err` for a broken invariant; a panic is caught and fails the case too; an abort (stack
/// overflow, allocation failure) ends the test process. On failure, writes the minimal failing
/// input proptest found to `medsins-fuzz-<name>.bin` in the temporary folder and panics with
/// it. Prints `fuzz <name>: <cases> cases, 0 failures` otherwise.
pub fn run<S, E>(
    name: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(&Input) -> Result<(), E> + Send + 'static,
) where
    S: Strategy<Value = Input> + Send + 'static,
    E: std::fmt::Display,
{
    if let Ok(only) = std::env::var("MEDSINS_FUZZ_ONLY")
        && !name.contains(&only)
    {
        return;
    }
    let name = name.to_string();
    let replay = std::env::temp_dir().join(format!("medsins-fuzz-{}.bin", name.replace(' ', "_")));
    let started = std::time::Instant::now();
    let outcome = std::thread::Builder::new()
        .name(format!("fuzz {name}"))
        .stack_size(2 << 20)
        .spawn(move || {
            let config = Config {
                cases,
                failure_persistence: None,
                max_shrink_iters: 2000,
                ..Config::default()
            };
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed()));
            let mut runner = TestRunner::new_with_rng(config, rng);
            runner
                .run(&strategy, |input| {
                    property(&input).map_err(|e| TestCaseError::fail(e.to_string()))
                })
                .map_err(|e| {
                    let TestError::Fail(_, input) = &e else {
                        return e.to_string();
                    };
                    match std::fs::write(&replay, &input.bytes) {
                        Ok(()) => format!("{e}\nminimal input written to {}", replay.display()),
                        Err(w) => format!("{e}\n(could not write the input: {w})"),
                    }
                })
        })
        .expect("spawn the fuzz thread")
        .join()
        .expect("the fuzz thread does not panic outside a case");
    match outcome {
        Ok(()) => println!(
            "fuzz {name}: {cases} cases, 0 failures ({:.1} s)",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => panic!("fuzz {name}: {e}"),
    }
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, chunk) in b.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.wrapping_add(i as u64).to_le_bytes());
    }
    b
}
