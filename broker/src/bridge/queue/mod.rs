//! The bounded on-disk outbound queue: an append-only log of segment files
//! with checksummed frames, and a delivery cursor.
//!
//! ## Why a segment log and not an embedded database (redb, sled)
//!
//! The queue is written in order, read in order and trimmed from the front:
//! an append-only file fits that exactly. An append is one `write` at the
//! end of the active segment (no page rewrites, no B-tree, no write
//! amplification), an `fdatasync` can cover a whole batch (group commit),
//! and delivered entries go away by moving a cursor and unlinking whole
//! segments. The format (see [`format`](mod@format)) is a hundred lines that a property
//! test and a fuzz target cover, and recovery is a scan that stops at the
//! first damaged frame. A database would add its own file format, its own
//! recovery and a dependency for a problem that has none of its hard parts
//! (random access, updates, transactions across keys).
//!
//! ## Files
//!
//! * `<20-digit id>.seg`: segments, ids increasing; appends go to the
//!   *active* (highest) segment, a new one is started when it reaches
//!   `segment_bytes`, and every start of the queue begins a new one (so a
//!   damaged tail of an old segment is never appended to);
//! * `cursor`: where the first undelivered entry is (segment id and offset,
//!   with a CRC). It is rewritten in place when the front of the queue moves
//!   (acknowledged or dropped entries) and is deliberately **not** fsynced on
//!   its own: a cursor that lags after a power loss only makes the bridge
//!   send some delivered entries again, which QoS 1 (at least once) allows.
//!   It is flushed with the next segment sync.
//!
//! ## Durability
//!
//! With [`FsyncPolicy::Always`] an appended batch is forced to disk before
//! the appender takes the next one; with [`FsyncPolicy::Never`] the page
//! cache holds it, which survives a crash of the process but not of the
//! machine. Sequence numbers are assigned in memory at each start, in queue
//! order; they are never stored.

pub mod format;

use std::{
    collections::{BTreeMap, VecDeque},
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use bytes::Bytes;

use self::format::{Entry, FRAME_HEADER, FormatError, MAGIC};
use super::config::{FsyncPolicy, OverflowPolicy, QueueConfig};

/// Largest frame body the queue reads or writes (a Record is at most the
/// broker's `max_record_size`, 1 MiB by default, plus topic and properties).
pub const MAX_BODY: u32 = 64 << 20;

const CURSOR_FILE: &str = "cursor";
const CURSOR_LEN: usize = 20;

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A file operation failed.
    #[error("queue I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system error.
        source: io::Error,
    },
    /// The entry cannot be encoded (a field too long) or is larger than the
    /// queue may hold.
    #[error("entry refused: {0}")]
    Format(#[from] FormatError),
    /// Another queue (another bridge, in this process or another) has the
    /// directory open.
    #[error(
        "the bridge queue directory {dir} is in use by another bridge: give each bridge its own `queue.dir`"
    )]
    Locked {
        /// The queue directory.
        dir: PathBuf,
    },
    /// The entry alone is larger than `max_bytes`.
    #[error("entry of {size} bytes exceeds the queue bound of {max} bytes")]
    TooLarge {
        /// The entry's frame size.
        size: u64,
        /// The queue's `max_bytes`.
        max: u64,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |source| QueueError::Io { path: path.to_owned(), source }
}

/// What [`DiskQueue::open`] found on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Undelivered entries found.
    pub entries: usize,
    /// Segments whose tail was damaged (truncated or failing its CRC) and
    /// skipped from that point.
    pub damaged_segments: usize,
}

/// What became of a pushed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stored, after dropping this many of the oldest entries for room.
    Stored {
        /// Oldest entries dropped (policy `drop-oldest`).
        dropped_oldest: u64,
    },
    /// Not stored: the queue is full and the policy is `drop-newest`.
    DroppedNewest,
    /// Not stored: the queue is full and the policy is `block`; try again
    /// once entries are acknowledged.
    Full,
}

/// Where an entry lives on disk.
#[derive(Debug, Clone, Copy)]
struct Slot {
    segment: u64,
    offset: u64,
    size: u32,
    acked: bool,
}

/// The queue. Not thread-safe by itself: the bridge holds it under a mutex,
/// taken only for page-cache reads and writes (fsync runs outside it, on a
/// cloned file handle, see [`DiskQueue::sync_handle`]).
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    config: QueueConfig,
    /// Undelivered entries in order; the front has sequence `head_seq`.
    slots: VecDeque<Slot>,
    head_seq: u64,
    bytes: u64,
    /// Read handles of the segments that still hold entries, and of the
    /// active one.
    segments: BTreeMap<u64, File>,
    active: u64,
    active_len: u64,
    cursor: File,
    buf: Vec<u8>,
}

fn segment_name(id: u64) -> String {
    format!("{id:020}.seg")
}

impl DiskQueue {
    /// Opens (or creates) the queue in `config.dir`, recovering the
    /// undelivered entries: a damaged or truncated tail of a segment is
    /// logged and skipped, never fatal.
    pub fn open(config: &QueueConfig) -> Result<(DiskQueue, Recovery), QueueError> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut ids = Vec::new();
        for item in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let item = item.map_err(io_err(&dir))?;
            let name = item.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse().ok())
            else {
                continue;
            };
            ids.push(id);
        }
        ids.sort_unstable();
        let cursor_path = dir.join(CURSOR_FILE);
        let cursor = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&cursor_path)
            .map_err(io_err(&cursor_path))?;
        // One queue per directory: two writers would interleave segments.
        // The lock (flock) lives as long as this handle, i.e. the queue.
        rustix::fs::flock(&cursor, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|e| {
            if e == rustix::io::Errno::WOULDBLOCK {
                QueueError::Locked { dir: dir.clone() }
            } else {
                QueueError::Io { path: cursor_path.clone(), source: e.into() }
            }
        })?;
        let start = read_cursor(&cursor);
        if start.is_none() && !ids.is_empty() {
            tracing::warn!(dir = %dir.display(), "bridge queue cursor missing or damaged: replaying every segment");
        }
        let (start_seg, start_off) = start.unwrap_or((0, MAGIC.len() as u64));

        let mut queue = DiskQueue {
            dir: dir.clone(),
            config: config.clone(),
            slots: VecDeque::new(),
            head_seq: 0,
            bytes: 0,
            segments: BTreeMap::new(),
            active: ids.last().map_or(1, |last| last + 1),
            active_len: 0,
            cursor,
            buf: Vec::new(),
        };
        let mut recovery = Recovery::default();
        for id in ids {
            let path = dir.join(segment_name(id));
            if id < start_seg {
                // Fully delivered before the last stop.
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let data = std::fs::read(&path).map_err(io_err(&path))?;
            let from = if id == start_seg { start_off } else { MAGIC.len() as u64 };
            let found = queue.scan(id, &data, from);
            if let Err((at, e)) = found {
                recovery.damaged_segments += 1;
                tracing::warn!(segment = %path.display(), offset = at, error = %e,
                    "bridge queue: damaged segment tail skipped");
            }
            if queue.slots.back().is_some_and(|s| s.segment == id) {
                queue.segments.insert(id, File::open(&path).map_err(io_err(&path))?);
            } else {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        recovery.entries = queue.slots.len();
        queue.start_segment()?;
        queue.write_cursor()?;
        Ok((queue, recovery))
    }

    /// Indexes the frames of one segment from `from`; on damage returns the
    /// offset and error (the frames before it are kept).
    fn scan(&mut self, id: u64, data: &[u8], from: u64) -> Result<(), (u64, FormatError)> {
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        let found = format::scan(data, from, MAX_BODY);
        for (offset, size) in found.frames {
            // Frames are at most MAX_BODY + 8 bytes, so sizes fit in u32.
            let size = u32::try_from(size).unwrap_or(u32::MAX);
            self.slots.push_back(Slot { segment: id, offset: offset as u64, size, acked: false });
            self.bytes += u64::from(size);
        }
        match found.damage {
            None => Ok(()),
            Some((at, e)) => Err((at as u64, e)),
        }
    }

    fn start_segment(&mut self) -> Result<(), QueueError> {
        let path = self.dir.join(segment_name(self.active));
        let file =
            OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(io_err(&path))?;
        file.write_all_at(&MAGIC, 0).map_err(io_err(&path))?;
        if self.config.fsync == FsyncPolicy::Always {
            // The new file's directory entry must be durable too, or a power
            // loss could lose the whole segment.
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir))?;
        }
        self.segments.insert(self.active, file);
        self.active_len = MAGIC.len() as u64;
        Ok(())
    }

    /// Undelivered entries.
    pub fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes of undelivered entries (their frame sizes).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The sequence number of the oldest undelivered entry.
    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// The sequence number the next pushed entry gets.
    pub fn end_seq(&self) -> u64 {
        self.head_seq + self.slots.len() as u64
    }

    /// Appends an entry, applying the overflow policy when the queue is full.
    pub fn push(&mut self, entry: &Entry) -> Result<Pushed, QueueError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.push_encoded(entry, &mut buf);
        self.buf = buf;
        result
    }

    fn push_encoded(&mut self, entry: &Entry, buf: &mut Vec<u8>) -> Result<Pushed, QueueError> {
        let size = format::encode_frame(entry, buf)? as u64;
        if size - FRAME_HEADER as u64 > u64::from(MAX_BODY) || size > self.config.max_bytes {
            return Err(QueueError::TooLarge { size, max: self.config.max_bytes.min(u64::from(MAX_BODY)) });
        }
        let fits = |q: &DiskQueue| q.len() < q.config.max_records && q.bytes + size <= q.config.max_bytes;
        let mut dropped_oldest = 0;
        if !fits(self) {
            match self.config.overflow {
                OverflowPolicy::DropNewest => return Ok(Pushed::DroppedNewest),
                OverflowPolicy::Block => return Ok(Pushed::Full),
                OverflowPolicy::DropOldest => {
                    while !fits(self) {
                        let Some(slot) = self.slots.pop_front() else { break };
                        self.head_seq += 1;
                        if !slot.acked {
                            self.bytes -= u64::from(slot.size);
                            dropped_oldest += 1;
                        }
                    }
                    self.front_moved()?;
                }
            }
        }
        if self.active_len + size > self.config.segment_bytes && self.active_len > MAGIC.len() as u64 {
            // The finished segment is synced now, before anything depends
            // on the next one (rare: once per `segment_bytes`).
            if self.config.fsync == FsyncPolicy::Always {
                let path = self.dir.join(segment_name(self.active));
                self.active_file()?.sync_data().map_err(io_err(&path))?;
            }
            self.active += 1;
            self.start_segment()?;
        }
        let offset = self.active_len;
        let path = self.dir.join(segment_name(self.active));
        self.active_file()?.write_all_at(buf, offset).map_err(io_err(&path))?;
        self.active_len += size;
        self.slots.push_back(Slot { segment: self.active, offset, size: size as u32, acked: false });
        self.bytes += size;
        Ok(Pushed::Stored { dropped_oldest })
    }

    fn active_file(&self) -> Result<&File, QueueError> {
        self.segments.get(&self.active).ok_or_else(|| QueueError::Io {
            path: self.dir.join(segment_name(self.active)),
            source: io::Error::other("active segment not open"),
        })
    }

    /// A handle on the active segment (and the cursor) to fsync outside the
    /// queue's lock; `None` under [`FsyncPolicy::Never`].
    pub fn sync_handle(&self) -> Result<Option<SyncHandle>, QueueError> {
        if self.config.fsync == FsyncPolicy::Never {
            return Ok(None);
        }
        let path = self.dir.join(segment_name(self.active));
        let segment = self.active_file()?.try_clone().map_err(io_err(&path))?;
        let cursor = self.cursor.try_clone().map_err(io_err(&self.dir))?;
        Ok(Some(SyncHandle { segment, cursor }))
    }

    /// Reads the entry with sequence `seq`, if it is still queued. A frame
    /// that no longer reads back intact (damaged on disk since it was
    /// written) is logged, dropped from the queue and reported as `Ok(None)`
    /// along with every later call for it.
    pub fn get(&mut self, seq: u64) -> Result<Option<Entry>, QueueError> {
        let Some(index) = seq.checked_sub(self.head_seq) else { return Ok(None) };
        let Some(slot) = usize::try_from(index).ok().and_then(|i| self.slots.get(i)).copied() else {
            return Ok(None);
        };
        if slot.acked {
            return Ok(None);
        }
        let path = self.dir.join(segment_name(slot.segment));
        let file = self.segments.get(&slot.segment).ok_or_else(|| QueueError::Io {
            path: path.clone(),
            source: io::Error::other("segment not open"),
        })?;
        let mut data = vec![0; slot.size as usize];
        file.read_exact_at(&mut data, slot.offset).map_err(io_err(&path))?;
        let decoded = match format::decode_frame(&data, MAX_BODY) {
            Ok(Some((_, body))) => {
                let end = FRAME_HEADER + body.len();
                format::decode_entry(&Bytes::from(data).slice(FRAME_HEADER..end))
            }
            Ok(None) => Err(FormatError::Truncated),
            Err(e) => Err(e),
        };
        match decoded {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                tracing::warn!(segment = %path.display(), offset = slot.offset, error = %e,
                    "bridge queue: entry damaged on disk, skipped");
                self.ack(seq)?;
                Ok(None)
            }
        }
    }

    /// Marks `seq` delivered; the front of the queue moves past every
    /// delivered entry, and segments left behind are deleted. Unknown or
    /// already dropped sequence numbers are ignored.
    pub fn ack(&mut self, seq: u64) -> Result<bool, QueueError> {
        let Some(index) = seq.checked_sub(self.head_seq).and_then(|i| usize::try_from(i).ok()) else {
            return Ok(false);
        };
        let Some(slot) = self.slots.get_mut(index) else { return Ok(false) };
        if slot.acked {
            return Ok(false);
        }
        slot.acked = true;
        self.bytes -= u64::from(slot.size);
        if index == 0 {
            while self.slots.front().is_some_and(|s| s.acked) {
                self.slots.pop_front();
                self.head_seq += 1;
            }
            self.front_moved()?;
        }
        Ok(true)
    }

    /// Persists the cursor and deletes segments that no entry needs.
    fn front_moved(&mut self) -> Result<(), QueueError> {
        let first_live = self.slots.front().map_or(self.active, |s| s.segment);
        while let Some((&id, _)) = self.segments.first_key_value() {
            if id >= first_live || id == self.active {
                break;
            }
            self.segments.remove(&id);
            let path = self.dir.join(segment_name(id));
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        self.write_cursor()
    }

    fn write_cursor(&mut self) -> Result<(), QueueError> {
        let (segment, offset) =
            self.slots.front().map_or((self.active, self.active_len), |s| (s.segment, s.offset));
        let mut record = [0u8; CURSOR_LEN];
        record[..8].copy_from_slice(&segment.to_le_bytes());
        record[8..16].copy_from_slice(&offset.to_le_bytes());
        let crc = crc32fast::hash(&record[..16]);
        record[16..].copy_from_slice(&crc.to_le_bytes());
        self.cursor.write_all_at(&record, 0).map_err(io_err(&self.dir))
    }
}

fn read_cursor(file: &File) -> Option<(u64, u64)> {
    let mut record = [0u8; CURSOR_LEN];
    file.read_exact_at(&mut record, 0).ok()?;
    let crc = u32::from_le_bytes(record[16..].try_into().ok()?);
    if crc32fast::hash(&record[..16]) != crc {
        return None;
    }
    let segment = u64::from_le_bytes(record[..8].try_into().ok()?);
    let offset = u64::from_le_bytes(record[8..16].try_into().ok()?);
    Some((segment, offset))
}

/// Files to fsync after a batch, cloned out of the queue so the sync runs
/// without its lock.
#[derive(Debug)]
pub struct SyncHandle {
    segment: File,
    cursor: File,
}

impl SyncHandle {
    /// `fdatasync`s the active segment and the cursor.
    pub fn sync(&self) -> io::Result<()> {
        self.segment.sync_data()?;
        self.cursor.sync_data()
    }
}

#[cfg(test)]
mod tests;
