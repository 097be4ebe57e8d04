//! The block log: `DATA/journal/blocks.log`, the one file that holds the
//! journal.
//!
//! An append-only file of frames, one per journal block, written only by the
//! journal writer (or, offline, by compaction into a new folder) and read by
//! everyone else with positional reads:
//!
//! ```text
//! frame  = header (32 bytes) ++ block (the codec's encoded block)
//! header = "TRVL" | block length u32 LE | first seq u64 LE | count u32 LE
//!          | 0u32 | first 8 bytes of blake3(the preceding 24 bytes)
//! ```
//!
//! Why not sled: sled 0.34's recovery is its own log plus its own snapshot
//! files, written with `sync_file_range` and relied on as if durable. Power-cut
//! images showed copies that sled itself could not open ("cannot find pid 5
//! in view_for_key", spacejam/sled#1443), even with every commit synced. A
//! journal that the promise to dispatch exactly once rests on cannot depend
//! on that recovery. Here recovery is a few lines this crate owns: read the
//! frame headers in order; the first header that fails its check, or runs
//! past the end of the file, ends the log (a write cut by a crash or power
//! cut); every block after the acknowledged mark is also fully checked, and
//! the first that fails ends it (its header reached the disk, its body did
//! not). What is cut there was never acknowledged; if an acknowledged
//! record is cut, the mark check (`crate::hwm`) stops recovery.
//!
//! Durability is one `fdatasync` of this file per commit (the file's size
//! is the only metadata an append changes, and fdatasync commits it), then
//! the mark: see `crate::durable`.
//!
//! The index, first and last sequence and offset of every frame, lives in
//! memory (24 bytes a block) and is rebuilt at open from the headers alone.
//! Readers share it with the writer; a frame is added to it only after its
//! bytes were written, so a reader never sees a frame it cannot read.

use crate::codec;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trove_engine::Seq;

/// The log's file name inside the journal folder.
pub const FILE: &str = "blocks.log";
const MAGIC: &[u8; 4] = b"TRVL";
/// Bytes of a frame header.
pub const FRAME_HEADER: usize = 32;
/// Largest block accepted on read: a header that claims more is damage.
/// (Blocks are cut at `block_target_bytes`, 256 KiB by default; one record
/// is bounded far below this by the engine's limits.)
pub(crate) const MAX_BLOCK: usize = 64 << 20;

/// Where one block is in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    first_seq: Seq,
    last_seq: Seq,
    /// Offset of the frame header.
    offset: u64,
    /// Length of the block after the header.
    len: u32,
}

impl Slot {
    fn end(&self) -> u64 {
        self.offset + (FRAME_HEADER as u64) + u64::from(self.len)
    }
}

/// Why the log stops before the end of its file: the bytes from `offset`
/// on are not part of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Torn {
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
    pub(crate) reason: String,
}

impl std::fmt::Display for Torn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} unreadable bytes at the end of {FILE} from offset {} ({})",
            self.bytes, self.offset, self.reason
        )
    }
}

struct Inner {
    path: PathBuf,
    file: File,
    slots: RwLock<Vec<Slot>>,
}

/// A reader's handle on the block log; cheap to clone, shared with the
/// writer, which appends through [`LogWriter`].
#[derive(Clone)]
pub(crate) struct BlockLog {
    inner: Arc<Inner>,
    /// Where the readable log ends and why, if the file goes on past it.
    torn: Option<Torn>,
}

/// The frame header of a block that starts at `first_seq` and holds `count`
/// records.
fn header(first_seq: Seq, count: u32, len: usize) -> [u8; FRAME_HEADER] {
    let mut h = [0u8; FRAME_HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h[8..16].copy_from_slice(&first_seq.to_le_bytes());
    h[16..20].copy_from_slice(&count.to_le_bytes());
    let check = blake3::hash(&h[..24]);
    h[24..32].copy_from_slice(&check.as_bytes()[..8]);
    h
}

/// The fields of a frame header, or why it is not one.
fn parse_header(h: &[u8; FRAME_HEADER]) -> Result<(usize, Seq, u32), String> {
    if &h[..4] != MAGIC {
        return Err("no frame header".into());
    }
    if blake3::hash(&h[..24]).as_bytes()[..8] != h[24..32] {
        return Err("frame header checksum mismatch".into());
    }
    let len = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
    if len > MAX_BLOCK {
        return Err(format!("frame claims a block of {len} bytes"));
    }
    let first_seq = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(h[16..20].try_into().expect("4 bytes"));
    Ok((len, first_seq, count))
}

/// Appends the frame of one encoded block to `out`.
pub fn frame(first_seq: Seq, count: u32, block: &[u8], out: &mut Vec<u8>) {
    assert!(block.len() <= MAX_BLOCK, "block of {} bytes", block.len());
    out.extend_from_slice(&header(first_seq, count, block.len()));
    out.extend_from_slice(block);
}

/// Opens (creating, 0600 in a 0700 folder, if missing) the file of a log.
fn open_file(dir: &Path) -> std::io::Result<(File, PathBuf)> {
    let path = dir.join(FILE);
    let existed = path.exists();
    if !existed {
        crate::snapshot::create_private_dir(dir)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(!existed)
        .create(!existed)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    if !existed {
        // The new file and its folder entry are durable before anything
        // is written to it.
        file.sync_all()?;
        File::open(dir)?.sync_all()?;
        if let Some(parent) = dir.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok((file, path))
}

/// Reads the frame headers in order; stops at the first that fails.
fn read_index(file: &File) -> std::io::Result<(Vec<Slot>, Option<Torn>)> {
    let len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.rewind()?;
    let mut slots: Vec<Slot> = Vec::new();
    let mut offset = 0u64;
    let torn = loop {
        if offset == len {
            break None;
        }
        let cut = |reason: String| Torn {
            offset,
            bytes: len - offset,
            reason,
        };
        if len - offset < FRAME_HEADER as u64 {
            break Some(cut("a frame header cut short".into()));
        }
        let mut h = [0u8; FRAME_HEADER];
        reader.read_exact(&mut h)?;
        let (block_len, first_seq, count) = match parse_header(&h) {
            Ok(fields) => fields,
            Err(reason) => break Some(cut(reason)),
        };
        let slot = Slot {
            first_seq,
            last_seq: first_seq + u64::from(count.max(1)) - 1,
            offset,
            len: block_len as u32,
        };
        if slot.end() > len {
            break Some(cut(format!("a block of {block_len} bytes cut short")));
        }
        if slots.last().is_some_and(|s| first_seq <= s.first_seq) {
            break Some(cut(format!("a frame for sequence {first_seq} out of order")));
        }
        reader.seek_relative(block_len as i64)?;
        offset = slot.end();
        slots.push(slot);
    };
    Ok((slots, torn))
}

impl BlockLog {
    /// Opens the log in `dir` (creating an empty one if there is none) for
    /// reading. Every block after sequence `acknowledged` (the mark) is
    /// checked in full; the log ends before the first that fails, or at the
    /// first frame header that fails (see the module docs). Nothing is
    /// changed on disk: [`LogWriter::open`] cuts the file.
    pub(crate) fn open(dir: &Path, acknowledged: Seq) -> std::io::Result<BlockLog> {
        let (file, path) = open_file(dir)?;
        let (mut slots, mut torn) = read_index(&file)?;
        let file_len = file.metadata()?.len();
        // The unacknowledged tail: its headers may have reached the disk
        // without its bodies.
        let start = slots.partition_point(|s| s.last_seq <= acknowledged);
        let mut prev: Option<codec::Hash> = None;
        for i in start.saturating_sub(1)..slots.len() {
            let slot = slots[i];
            let bytes = read_at(&file, &slot)?;
            let checked = codec::decode_block(&bytes).and_then(|b| {
                if b.first_seq != slot.first_seq {
                    return Err(format!(
                        "frame for sequence {} holds block {}",
                        slot.first_seq, b.first_seq
                    ));
                }
                if prev.is_some_and(|p| p != b.prev_hash) {
                    return Err("block does not follow the one before it".into());
                }
                Ok(b.hash)
            });
            match checked {
                Ok(hash) => prev = Some(hash),
                // The block at or before the mark is checked only to link the
                // tail to it; its damage is recovery's to report.
                Err(_) if i < start => prev = None,
                Err(reason) => {
                    torn = Some(Torn {
                        offset: slot.offset,
                        bytes: file_len - slot.offset,
                        reason: format!(
                            "block at sequence {} after the acknowledged mark: {reason}",
                            slot.first_seq
                        ),
                    });
                    slots.truncate(i);
                    break;
                }
            }
        }
        Ok(BlockLog {
            inner: Arc::new(Inner {
                path,
                file,
                slots: RwLock::new(slots),
            }),
            torn,
        })
    }

    /// Bytes at the end of the file that are not part of the log, if any.
    pub(crate) fn torn(&self) -> Option<&Torn> {
        self.torn.as_ref()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.inner.slots.read().len()
    }

    /// Bytes of the readable log.
    pub(crate) fn bytes(&self) -> u64 {
        self.inner.slots.read().last().map_or(0, Slot::end)
    }

    /// Index of the block whose first sequence is the greatest at or below
    /// `seq`, if any.
    pub(crate) fn position_at_or_before(&self, seq: Seq) -> Option<usize> {
        let slots = self.inner.slots.read();
        slots.partition_point(|s| s.first_seq <= seq).checked_sub(1)
    }

    /// The first sequence the frame at `index` claims, and its block's
    /// bytes; `None` past the end.
    pub(crate) fn get(&self, index: usize) -> std::io::Result<Option<(Seq, Vec<u8>)>> {
        let slot = match self.inner.slots.read().get(index) {
            Some(s) => *s,
            None => return Ok(None),
        };
        Ok(Some((slot.first_seq, read_at(&self.inner.file, &slot)?)))
    }

    /// The last block: its first sequence and bytes.
    pub(crate) fn last(&self) -> std::io::Result<Option<(Seq, Vec<u8>)>> {
        match self.len() {
            0 => Ok(None),
            n => self.get(n - 1),
        }
    }

    /// The last sequence the headers claim (0 if empty): no check of the
    /// blocks.
    pub(crate) fn last_claimed_seq(&self) -> Seq {
        self.inner.slots.read().last().map_or(0, |s| s.last_seq)
    }
}

fn read_at(file: &File, slot: &Slot) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; slot.len as usize];
    file.read_exact_at(&mut bytes, slot.offset + FRAME_HEADER as u64)?;
    Ok(bytes)
}

/// The one writer of a log.
pub(crate) struct LogWriter {
    file: File,
    log: BlockLog,
    /// Where the next frame goes.
    end: u64,
}

impl LogWriter {
    /// Takes over `log` for appending: first cuts the file where the log
    /// ends (a torn tail, never acknowledged) and syncs the cut.
    pub(crate) fn open(log: &BlockLog) -> std::io::Result<LogWriter> {
        let file = OpenOptions::new().write(true).open(log.path())?;
        let end = log.bytes();
        if file.metadata()?.len() != end {
            if let Some(torn) = log.torn() {
                tracing::warn!(%torn, "cutting the unacknowledged end of the journal");
            }
            file.set_len(end)?;
            file.sync_all()?;
        }
        Ok(LogWriter {
            file,
            log: log.clone(),
            end,
        })
    }

    /// Creates a new, empty log in `dir` (which must not hold one).
    pub(crate) fn create(dir: &Path) -> std::io::Result<LogWriter> {
        if dir.join(FILE).exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists", dir.join(FILE).display()),
            ));
        }
        let log = BlockLog::open(dir, 0)?;
        LogWriter::open(&log)
    }

    /// Writes `frames` (built with [`frame`]; `blocks` lists each frame's
    /// first sequence and record count, in order) at the end of the file
    /// and then makes them visible to readers. Not durable until
    /// [`LogWriter::sync`].
    pub(crate) fn append(&mut self, frames: &[u8], blocks: &[(Seq, u32)]) -> std::io::Result<()> {
        self.file.write_all_at(frames, self.end)?;
        let mut slots = Vec::with_capacity(blocks.len());
        let mut offset = self.end;
        let mut rest = frames;
        for &(first_seq, count) in blocks {
            let h: &[u8; FRAME_HEADER] = rest[..FRAME_HEADER].try_into().expect("a frame header");
            let (len, claimed, claimed_count) = parse_header(h).expect("frames built by `frame`");
            assert_eq!(
                (claimed, claimed_count),
                (first_seq, count),
                "frame list matches the frames"
            );
            let slot = Slot {
                first_seq,
                last_seq: first_seq + u64::from(count.max(1)) - 1,
                offset,
                len: len as u32,
            };
            offset = slot.end();
            rest = &rest[FRAME_HEADER + len..];
            slots.push(slot);
        }
        assert!(rest.is_empty(), "every frame listed");
        self.end = offset;
        let mut index = self.log.inner.slots.write();
        debug_assert!(
            match (index.last(), slots.first()) {
                (Some(a), Some(b)) => b.first_seq > a.first_seq,
                _ => true,
            },
            "frames are appended in sequence order"
        );
        index.extend(slots);
        Ok(())
    }

    /// `fdatasync` of the file: everything appended is durable.
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

/// Test and repair support: reads every frame whose header checks out (no
/// other check) as first sequence -> block bytes, lets `edit` change the
/// map, and rewrites the log from it (headers recomputed; a value that does
/// not decode keeps the record count its frame had, or 1). What a buggy
/// writer or a tampering insider could leave: the damage tests use it.
#[doc(hidden)]
pub fn rewrite(dir: &Path, edit: impl FnOnce(&mut BTreeMap<Seq, Vec<u8>>)) -> std::io::Result<()> {
    let (file, path) = open_file(dir)?;
    let (slots, _) = read_index(&file)?;
    let mut blocks = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for slot in &slots {
        blocks.insert(slot.first_seq, read_at(&file, slot)?);
        counts.insert(slot.first_seq, (slot.last_seq - slot.first_seq + 1) as u32);
    }
    edit(&mut blocks);
    let mut out = Vec::new();
    for (first_seq, bytes) in &blocks {
        let count = codec::decode_checked_block(bytes)
            .map(|b| b.count)
            .unwrap_or_else(|_| counts.get(first_seq).copied().unwrap_or(1));
        frame(*first_seq, count, bytes, &mut out);
    }
    let tmp = path.with_extension("rewrite");
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, &path)
}
