//! A write-ahead journal for the sled backend: the durability point of a
//! change is one append to a small file (plus one `fdatasync` under
//! [`Durability::Power`](super::Durability)), not a sled flush.
//!
//! Why: a flushed sled 0.34 transaction costs two `pwrite` +
//! `sync_file_range` round trips through sled's own thread pool (the batch
//! manifest and the data land in separate io buffers), which is two disk
//! waits and a cascade of thread wake-ups per click, before any `fdatasync`
//! for power-loss durability. An append is one `pwrite` into the page cache,
//! which already survives `kill -9`; under `power` one `fdatasync` (shared by
//! every change appended meanwhile: group commit) makes it survive a power
//! cut. sled still holds the data and serves every read; a background
//! checkpoint flushes sled and retires the journal files it covers.
//!
//! Records are *physical*: the final value (or removal) of every key a
//! change wrote, in commit order. Replaying a record is therefore idempotent,
//! and replaying every surviving record in order over whatever sled
//! persisted rebuilds exactly the state the acknowledged changes left.
//!
//! File format: files `fa-journal.<generation>` (decimal) in the store's
//! directory; each holds records `len: u32 LE | crc32(payload): u32 LE |
//! payload`, with `payload = count: u32 | op*` and `op = space: u8 |
//! key_len: u32 | key | present: u8 | [value_len: u32 | value]`. A record
//! that is torn (short) or fails its checksum ends the replay: what follows
//! it was never acknowledged (see [`Journal::append`] for why the order
//! holds).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const PREFIX: &str = "fa-journal.";
/// A single record larger than this is refused (and one on disk claiming
/// more is treated as torn): no change of this store comes near it.
const MAX_RECORD: u32 = 64 * 1024 * 1024;

/// One key's final state after a change: `space` names the keyspace (a sled
/// tree) for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub space: u8,
    pub key: Vec<u8>,
    /// `None` removes the key.
    pub value: Option<Vec<u8>>,
}

/// What a previous process left behind: every readable record, in order,
/// and the files they came from.
#[derive(Debug, Default)]
pub struct Recovered {
    pub records: Vec<Vec<Op>>,
    pub files: Vec<PathBuf>,
    /// Bytes after the last readable record (a torn tail), summed over files.
    pub discarded_bytes: u64,
}

struct Active {
    file: Arc<File>,
    generation: u64,
    len: u64,
}

/// The journal of one open store. Appends are ordered by the caller (the
/// sled backend holds its writer lock across validate, append and apply).
pub struct Journal {
    dir: PathBuf,
    /// `fdatasync` on [`Journal::sync`] and around rotation.
    power: bool,
    active: Mutex<Active>,
    /// `(generation, length)` known to be on stable storage; group commit
    /// skips the `fdatasync` when a later one already covered a change.
    synced: Mutex<(u64, u64)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves no half-made state behind
    // (lengths advance only after a complete write), so carry on.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn file_name(generation: u64) -> String {
    format!("{PREFIX}{generation}")
}

fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?.parse().ok()
}

/// The journal files in `dir`, oldest first.
fn files_in(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(generation) = entry.file_name().to_str().and_then(generation_of) {
            found.push((generation, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Encodes one record (header included).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        4 + ops
            .iter()
            .map(|o| 10 + o.key.len() + o.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>(),
    );
    payload.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        payload.push(op.space);
        payload.extend_from_slice(&(op.key.len() as u32).to_le_bytes());
        payload.extend_from_slice(&op.key);
        match &op.value {
            Some(v) => {
                payload.push(1);
                payload.extend_from_slice(&(v.len() as u32).to_le_bytes());
                payload.extend_from_slice(v);
            }
            None => payload.push(0),
        }
    }
    let mut record = Vec::with_capacity(8 + payload.len());
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    record
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
}

fn decode_payload(payload: &[u8]) -> Option<Vec<Op>> {
    let mut r = Reader(payload);
    let count = r.u32()? as usize;
    // Each op takes at least 6 bytes: a count beyond that is damage.
    if count > payload.len() / 6 {
        return None;
    }
    let mut ops = Vec::with_capacity(count);
    for _ in 0..count {
        let space = r.u8()?;
        let key_len = r.u32()? as usize;
        let key = r.take(key_len)?.to_vec();
        let value = match r.u8()? {
            0 => None,
            1 => {
                let len = r.u32()? as usize;
                Some(r.take(len)?.to_vec())
            }
            _ => return None,
        };
        ops.push(Op { space, key, value });
    }
    r.0.is_empty().then_some(ops)
}

/// Decodes the records of one file's bytes: the readable prefix and how many
/// bytes after it were discarded.
pub fn decode_all(mut bytes: &[u8]) -> (Vec<Vec<Op>>, u64) {
    let mut records = Vec::new();
    loop {
        if bytes.is_empty() {
            return (records, 0);
        }
        let mut r = Reader(bytes);
        let parsed = (|| {
            let len = r.u32()?;
            if len > MAX_RECORD {
                return None;
            }
            let crc = r.u32()?;
            let payload = r.take(len as usize)?;
            if crc32fast::hash(payload) != crc {
                return None;
            }
            Some((decode_payload(payload)?, 8 + len as usize))
        })();
        match parsed {
            Some((ops, used)) => {
                records.push(ops);
                bytes = &bytes[used..];
            }
            None => return (records, bytes.len() as u64),
        }
    }
}

/// Reads every journal file in `dir`, oldest first, stopping at the first
/// unreadable record: a later record can only have been written after it,
/// so it was never acknowledged either.
pub fn recover(dir: &Path) -> io::Result<Recovered> {
    let mut out = Recovered::default();
    let mut ended = false;
    for (_, path) in files_in(dir)? {
        if !ended {
            let bytes = std::fs::read(&path)?;
            let (records, discarded) = decode_all(&bytes);
            out.records.extend(records);
            out.discarded_bytes += discarded;
            ended = discarded > 0;
        } else {
            out.discarded_bytes += std::fs::metadata(&path)?.len();
        }
        out.files.push(path);
    }
    Ok(out)
}

impl Journal {
    /// Starts a fresh journal in `dir` after the caller has applied and
    /// durably flushed what [`recover`] returned: removes those files and
    /// opens the next generation.
    pub fn start(dir: &Path, power: bool, applied: &Recovered) -> io::Result<Journal> {
        let next = files_in(dir)?.last().map_or(1, |(g, _)| g + 1);
        for path in &applied.files {
            std::fs::remove_file(path)?;
        }
        let file = Self::create(dir, next, power)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            power,
            active: Mutex::new(Active {
                file: Arc::new(file),
                generation: next,
                len: 0,
            }),
            synced: Mutex::new((next, 0)),
        })
    }

    fn create(dir: &Path, generation: u64, power: bool) -> io::Result<File> {
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(dir.join(file_name(generation)))?;
        if power {
            // The new name must survive a power cut before any record in it
            // is acknowledged (and the removals before it).
            sync_dir(dir)?;
        }
        Ok(file)
    }

    /// Appends one record. The caller serialises appends with the changes
    /// they describe (it holds its writer lock across validate, append and
    /// apply), so the journal order is the commit order; a record that
    /// depends on another is always after it.
    pub fn append(&self, ops: &[Op]) -> io::Result<()> {
        let record = encode(ops);
        if record.len() as u64 > u64::from(MAX_RECORD) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "journal record too large"));
        }
        let mut active = lock(&self.active);
        // The length only advances after a complete write: a failed write
        // (ENOSPC) is overwritten by the next append.
        active.file.write_all_at(&record, active.len)?;
        active.len += record.len() as u64;
        Ok(())
    }

    /// Makes every record appended so far survive a power cut (`power`), or
    /// returns at once (`process`: the page cache already survives a killed
    /// process). Concurrent callers share one `fdatasync`.
    pub fn sync(&self) -> io::Result<()> {
        if !self.power {
            return Ok(());
        }
        let target = {
            let a = lock(&self.active);
            (a.generation, a.len)
        };
        // Lock order: `synced` then `active`, never the reverse.
        let mut synced = lock(&self.synced);
        if *synced >= target {
            return Ok(());
        }
        // Lead the group: cover everything appended until now, so the
        // callers queued behind this lock find their change already synced.
        let (file, covered) = {
            let a = lock(&self.active);
            (a.file.clone(), (a.generation, a.len))
        };
        file.sync_data()?;
        *synced = (*synced).max(covered);
        Ok(())
    }

    /// Bytes in the current generation.
    pub fn len(&self) -> u64 {
        lock(&self.active).len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Switches to a new file; returns the old one for [`Journal::retire`]
    /// once the store has durably flushed everything applied so far. `None`
    /// when the current file is empty. Call with the caller's writer lock
    /// held, so every record in the old file is already applied.
    pub fn rotate(&self) -> io::Result<Option<PathBuf>> {
        let mut active = lock(&self.active);
        if active.len == 0 {
            return Ok(None);
        }
        if self.power {
            // Only the newest file may ever hold an unsynced tail, which is
            // what lets recovery stop at the first unreadable record.
            active.file.sync_data()?;
        }
        let next = active.generation + 1;
        let file = Self::create(&self.dir, next, self.power)?;
        let old = self.dir.join(file_name(active.generation));
        *active = Active {
            file: Arc::new(file),
            generation: next,
            len: 0,
        };
        drop(active);
        // Everything before the new generation is on disk (synced above).
        let mut synced = lock(&self.synced);
        *synced = (*synced).max((next, 0));
        Ok(Some(old))
    }

    /// Removes a file whose every record the store now holds durably.
    pub fn retire(&self, old: &Path) -> io::Result<()> {
        std::fs::remove_file(old)?;
        if self.power {
            // An older file must not reappear after a newer one is gone.
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn op(space: u8, key: &str, value: Option<&str>) -> Op {
        Op {
            space,
            key: key.as_bytes().to_vec(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn appended_records_are_recovered_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::start(dir.path(), true, &Recovered::default()).unwrap();
        j.append(&[op(0, "a", Some("1")), op(3, "x", None)]).unwrap();
        j.append(&[op(0, "a", Some("2"))]).unwrap();
        j.sync().unwrap();
        let r = recover(dir.path()).unwrap();
        assert_eq!(
            r.records,
            vec![
                vec![op(0, "a", Some("1")), op(3, "x", None)],
                vec![op(0, "a", Some("2"))]
            ]
        );
        assert_eq!(r.discarded_bytes, 0);
    }

    #[test]
    fn a_torn_tail_ends_the_replay_and_later_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::start(dir.path(), false, &Recovered::default()).unwrap();
        j.append(&[op(0, "a", Some("1"))]).unwrap();
        j.append(&[op(0, "b", Some("2"))]).unwrap();
        let path = dir.path().join(file_name(1));
        let full = std::fs::read(&path).unwrap();
        // Cut the second record in half, then add a newer file.
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        std::fs::write(dir.path().join(file_name(2)), encode(&[op(0, "c", Some("3"))])).unwrap();
        let r = recover(dir.path()).unwrap();
        assert_eq!(r.records, vec![vec![op(0, "a", Some("1"))]]);
        assert_eq!(r.files.len(), 2);
        assert!(r.discarded_bytes > 0);
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut bytes = encode(&[op(1, "k", Some("value"))]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(decode_all(&bytes), (vec![], bytes.len() as u64));
    }

    #[test]
    fn rotation_starts_a_new_generation_and_retire_removes_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::start(dir.path(), true, &Recovered::default()).unwrap();
        assert!(j.rotate().unwrap().is_none(), "nothing to rotate");
        j.append(&[op(0, "a", Some("1"))]).unwrap();
        let old = j.rotate().unwrap().unwrap();
        j.append(&[op(0, "a", Some("2"))]).unwrap();
        assert_eq!(recover(dir.path()).unwrap().records.len(), 2);
        j.retire(&old).unwrap();
        let r = recover(dir.path()).unwrap();
        assert_eq!(r.records, vec![vec![op(0, "a", Some("2"))]]);
        // A restart continues after the newest generation.
        let j2 = Journal::start(dir.path(), true, &r).unwrap();
        assert!(j2.is_empty());
        assert_eq!(files_in(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn group_commit_skips_a_sync_already_covered() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::start(dir.path(), true, &Recovered::default()).unwrap();
        j.append(&[op(0, "a", Some("1"))]).unwrap();
        j.sync().unwrap();
        let after = *lock(&j.synced);
        assert_eq!(after, (1, j.len()));
        j.sync().unwrap();
        assert_eq!(*lock(&j.synced), after);
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        )
            .prop_map(|(space, key, value)| Op { space, key, value })
    }

    proptest! {
        #[test]
        fn records_round_trip(records in proptest::collection::vec(proptest::collection::vec(arb_op(), 0..8), 0..8)) {
            let bytes: Vec<u8> = records.iter().flat_map(|r| encode(r)).collect();
            prop_assert_eq!(decode_all(&bytes), (records, 0));
        }

        /// Any prefix of a journal decodes to a prefix of its records, and
        /// garbage never panics.
        #[test]
        fn prefixes_and_garbage_are_safe(
            records in proptest::collection::vec(proptest::collection::vec(arb_op(), 0..4), 1..6),
            cut in any::<prop::sample::Index>(),
            garbage in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let bytes: Vec<u8> = records.iter().flat_map(|r| encode(r)).collect();
            let cut = cut.index(bytes.len() + 1);
            let (got, _) = decode_all(&bytes[..cut]);
            prop_assert!(got.len() <= records.len());
            prop_assert_eq!(&records[..got.len()], &got[..]);
            let _ = decode_all(&garbage);
        }
    }
}
