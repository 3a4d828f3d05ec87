use std::path::Path;

use bytes::Bytes;

use super::{
    format::{Entry, EntryKind},
    *,
};

fn config(dir: &Path, overflow: OverflowPolicy) -> QueueConfig {
    QueueConfig {
        dir: dir.to_owned(),
        max_bytes: 1 << 20,
        max_records: 5,
        overflow,
        fsync: FsyncPolicy::Always,
        segment_bytes: 200,
    }
}

fn entry(n: u32) -> Entry {
    Entry {
        kind: EntryKind::Record,
        topic: "usp/controller/proto::cloud".into(),
        response_topic: Some("usp/agent/proto::a".into()),
        properties: vec![("k".into(), "v".into())],
        payload: Bytes::from(n.to_be_bytes().to_vec()),
    }
}

fn payloads(q: &mut DiskQueue) -> Vec<u32> {
    (q.head_seq()..q.end_seq())
        .filter_map(|s| q.get(s).unwrap())
        .map(|e| u32::from_be_bytes(e.payload[..4].try_into().unwrap()))
        .collect()
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
}

#[test]
fn entries_come_back_in_order_and_leave_when_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, recovery) = DiskQueue::open(&config(dir.path(), OverflowPolicy::Block)).unwrap();
    assert_eq!(recovery, Recovery::default());
    for n in 0..4 {
        assert_eq!(q.push(&entry(n)).unwrap(), Pushed::Stored { dropped_oldest: 0 });
    }
    assert_eq!(payloads(&mut q), [0, 1, 2, 3]);
    assert_eq!(q.get(0).unwrap().unwrap(), entry(0));
    // Out-of-order acks: the front moves only once the oldest is acked.
    assert!(q.ack(1).unwrap());
    assert_eq!((q.head_seq(), q.len()), (0, 4));
    assert!(q.get(1).unwrap().is_none(), "an acked entry is not handed out again");
    assert!(q.ack(0).unwrap());
    assert_eq!((q.head_seq(), q.len()), (2, 2));
    assert!(!q.ack(0).unwrap(), "stale acks are ignored");
    assert_eq!(payloads(&mut q), [2, 3]);
}

#[test]
fn undelivered_entries_survive_a_restart_and_delivered_ones_do_not_return() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), OverflowPolicy::Block);
    {
        let (mut q, _) = DiskQueue::open(&cfg).unwrap();
        for n in 0..5 {
            q.push(&entry(n)).unwrap();
        }
        q.ack(0).unwrap();
        q.ack(1).unwrap();
    }
    let (mut q, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!(recovery, Recovery { entries: 3, damaged_segments: 0 });
    assert_eq!(payloads(&mut q), [2, 3, 4]);
    q.push(&entry(5)).unwrap();
    assert_eq!(payloads(&mut q), [2, 3, 4, 5]);
}

#[test]
fn segments_roll_and_are_deleted_once_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), OverflowPolicy::Block);
    cfg.max_records = 100;
    let (mut q, _) = DiskQueue::open(&cfg).unwrap();
    for n in 0..10 {
        q.push(&entry(n)).unwrap();
    }
    let rolled = segment_files(dir.path()).len();
    assert!(rolled >= 3, "200-byte segments hold ~2 entries: {rolled}");
    for seq in 0..10 {
        q.ack(seq).unwrap();
    }
    assert_eq!(segment_files(dir.path()).len(), 1, "only the active segment stays");
    drop(q);
    let (q, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!((recovery.entries, q.len()), (0, 0));
}

#[test]
fn overflow_policies() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) =
        DiskQueue::open(&config(&dir.path().join("newest"), OverflowPolicy::DropNewest)).unwrap();
    for n in 0..5 {
        q.push(&entry(n)).unwrap();
    }
    assert_eq!(q.push(&entry(5)).unwrap(), Pushed::DroppedNewest);
    assert_eq!(payloads(&mut q), [0, 1, 2, 3, 4]);

    let (mut q, _) =
        DiskQueue::open(&config(&dir.path().join("oldest"), OverflowPolicy::DropOldest)).unwrap();
    for n in 0..5 {
        q.push(&entry(n)).unwrap();
    }
    assert_eq!(q.push(&entry(5)).unwrap(), Pushed::Stored { dropped_oldest: 1 });
    assert_eq!(q.push(&entry(6)).unwrap(), Pushed::Stored { dropped_oldest: 1 });
    assert_eq!(payloads(&mut q), [2, 3, 4, 5, 6]);
    assert_eq!(q.head_seq(), 2);

    let (mut q, _) = DiskQueue::open(&config(&dir.path().join("block"), OverflowPolicy::Block)).unwrap();
    for n in 0..5 {
        q.push(&entry(n)).unwrap();
    }
    assert_eq!(q.push(&entry(5)).unwrap(), Pushed::Full);
    q.ack(0).unwrap();
    assert_eq!(q.push(&entry(5)).unwrap(), Pushed::Stored { dropped_oldest: 0 });
    assert_eq!(payloads(&mut q), [1, 2, 3, 4, 5]);

    // The byte bound counts too, and an entry larger than the bound is refused.
    let mut cfg = config(&dir.path().join("bytes"), OverflowPolicy::DropNewest);
    let size = format::encode_frame(&entry(0), &mut Vec::new()).unwrap() as u64;
    cfg.max_bytes = size * 2;
    let (mut q, _) = DiskQueue::open(&cfg).unwrap();
    q.push(&entry(0)).unwrap();
    q.push(&entry(1)).unwrap();
    assert_eq!(q.push(&entry(2)).unwrap(), Pushed::DroppedNewest);
    assert_eq!(q.bytes(), size * 2);
    let big = Entry { payload: Bytes::from(vec![0; 1000]), ..entry(9) };
    assert!(matches!(q.push(&big), Err(QueueError::TooLarge { .. })));
}

#[test]
fn a_truncated_tail_is_skipped_and_the_queue_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), OverflowPolicy::Block);
    cfg.segment_bytes = 1 << 20;
    {
        let (mut q, _) = DiskQueue::open(&cfg).unwrap();
        for n in 0..3 {
            q.push(&entry(n)).unwrap();
        }
    }
    // A crash in the middle of writing the third frame.
    let seg = segment_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
    let (mut q, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!(recovery, Recovery { entries: 2, damaged_segments: 1 });
    assert_eq!(payloads(&mut q), [0, 1]);
    q.push(&entry(7)).unwrap();
    assert_eq!(payloads(&mut q), [0, 1, 7]);
    drop(q);
    // And the damaged segment does not bother the next start either.
    let (mut q, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!((recovery.entries, payloads(&mut q)), (3, vec![0, 1, 7]));
}

#[test]
fn a_corrupt_frame_and_garbage_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), OverflowPolicy::Block);
    cfg.segment_bytes = 1 << 20;
    {
        let (mut q, _) = DiskQueue::open(&cfg).unwrap();
        for n in 0..3 {
            q.push(&entry(n)).unwrap();
        }
    }
    let seg = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff; // the last frame's payload: its CRC no longer matches
    std::fs::write(&seg, &bytes).unwrap();
    // A segment that is pure garbage, and one that is empty.
    std::fs::write(dir.path().join(format!("{:020}.seg", 0)), b"garbage garbage").unwrap();
    std::fs::write(dir.path().join(format!("{:020}.seg", 100)), b"").unwrap();
    // And a damaged cursor: every segment is replayed.
    std::fs::write(dir.path().join(CURSOR_FILE), [0xAB; CURSOR_LEN]).unwrap();
    let (mut q, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!(recovery, Recovery { entries: 2, damaged_segments: 3 });
    assert_eq!(payloads(&mut q), [0, 1]);
}

#[test]
fn dropped_oldest_entries_do_not_come_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), OverflowPolicy::DropOldest);
    {
        let (mut q, _) = DiskQueue::open(&cfg).unwrap();
        for n in 0..8 {
            q.push(&entry(n)).unwrap();
        }
    }
    let (mut q, _) = DiskQueue::open(&cfg).unwrap();
    assert_eq!(payloads(&mut q), [3, 4, 5, 6, 7]);
}

#[test]
fn one_queue_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), OverflowPolicy::Block);
    let (mut first, _) = DiskQueue::open(&cfg).unwrap();
    first.push(&entry(1)).unwrap();
    match DiskQueue::open(&cfg) {
        Err(QueueError::Locked { dir: locked }) => assert_eq!(locked, dir.path()),
        other => panic!("a second queue on the directory: {other:?}"),
    }
    drop(first);
    let (mut again, recovery) = DiskQueue::open(&cfg).unwrap();
    assert_eq!(recovery.entries, 1);
    assert_eq!(payloads(&mut again), [1]);
}
