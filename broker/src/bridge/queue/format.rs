//! The queue's on-disk format: pure encoding and decoding, no files.
//!
//! A segment file is a header followed by frames:
//!
//! ```text
//! segment := MAGIC (8 bytes) frame*
//! frame   := len: u32 LE | crc: u32 LE (CRC-32 of body) | body (len bytes)
//! body    := kind: u8 | topic: str16 | response_topic: str16 (empty = none)
//!            | n_properties: u8 | (name: str16 | value: str16)* | payload (rest)
//! str16   := len: u16 LE | UTF-8 bytes
//! ```
//!
//! Frames are only ever appended, so the one damage a crash leaves is at the
//! end: a frame cut short, or one whose bytes did not all reach the disk
//! (caught by the CRC). [`decode_frame`] tells the two apart from a clean
//! end; the reader stops at the first bad frame of a segment. Lengths read
//! from disk are checked against a maximum before anything is allocated.

use bytes::{BufMut, Bytes};

/// The first bytes of every segment file (name, format version 1).
pub const MAGIC: [u8; 8] = *b"USPBQ\0\0\x01";

/// Bytes of a frame's header (length and CRC).
pub const FRAME_HEADER: usize = 8;

/// What a queued entry is; it decides how the uplink publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A USP Record for a cloud Controller (Content Type `usp.msg`).
    Record = 0,
    /// A site event (a Notify Record, Content Type `usp.msg`).
    Event = 1,
    /// A rule-driven event: opaque payload, no content type.
    RuleEvent = 2,
}

/// One queued PUBLISH, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: EntryKind,
    /// The upstream topic.
    pub topic: String,
    /// The MQTT 5 Response Topic, if any.
    pub response_topic: Option<String>,
    /// MQTT 5 User Properties.
    pub properties: Vec<(String, String)>,
    /// The payload.
    pub payload: Bytes,
}

/// Why bytes are not a valid frame or entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file does not start with [`MAGIC`].
    #[error("not a queue segment (bad magic)")]
    BadMagic,
    /// The frame announces a body longer than the allowed maximum.
    #[error("frame length {len} exceeds the maximum {max}")]
    TooLong {
        /// Announced length.
        len: u64,
        /// Allowed maximum.
        max: u64,
    },
    /// The bytes end inside the frame (a write cut short).
    #[error("frame truncated")]
    Truncated,
    /// The body's CRC does not match (a torn or damaged write).
    #[error("frame checksum mismatch")]
    Checksum,
    /// The body is not a valid entry.
    #[error("malformed entry: {0}")]
    Malformed(&'static str),
    /// A string or the property list is too long to encode.
    #[error("entry field too long to encode")]
    FieldTooLong,
}

/// Checks a segment's header; returns the offset of its first frame.
pub fn check_magic(file: &[u8]) -> Result<usize, FormatError> {
    match file.get(..MAGIC.len()) {
        Some(m) if m == MAGIC => Ok(MAGIC.len()),
        Some(_) => Err(FormatError::BadMagic),
        None => Err(FormatError::Truncated),
    }
}

/// Decodes the frame at the start of `buf`: `Ok(None)` when `buf` is empty
/// (a clean end), else the frame's total size and its checked body.
pub fn decode_frame(buf: &[u8], max_body: u32) -> Result<Option<(usize, &[u8])>, FormatError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let header = buf.get(..FRAME_HEADER).ok_or(FormatError::Truncated)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > max_body {
        return Err(FormatError::TooLong { len: u64::from(len), max: u64::from(max_body) });
    }
    let end = FRAME_HEADER + len as usize;
    let body = buf.get(FRAME_HEADER..end).ok_or(FormatError::Truncated)?;
    if crc32fast::hash(body) != crc {
        return Err(FormatError::Checksum);
    }
    Ok(Some((end, body)))
}

/// The frames found in a segment file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// `(offset, size)` of each intact frame, in file order.
    pub frames: Vec<(usize, usize)>,
    /// Where reading stopped on damage, and why; `None` at a clean end.
    pub damage: Option<(usize, FormatError)>,
}

/// Reads a whole segment file from offset `from` (the first frame is at
/// [`MAGIC`]`.len()`): every intact frame up to the end or to the first
/// damaged one, after which nothing in the file is trusted.
pub fn scan(file: &[u8], from: usize, max_body: u32) -> Scan {
    let mut scan = Scan::default();
    if let Err(e) = check_magic(file) {
        scan.damage = Some((0, e));
        return scan;
    }
    let mut at = from.max(MAGIC.len());
    loop {
        let Some(rest) = file.get(at..) else {
            scan.damage = Some((at, FormatError::Truncated));
            return scan;
        };
        match decode_frame(rest, max_body) {
            Ok(None) => return scan,
            Ok(Some((size, _))) => {
                scan.frames.push((at, size));
                at += size;
            }
            Err(e) => {
                scan.damage = Some((at, e));
                return scan;
            }
        }
    }
}

/// Appends the frame of `entry` to `out` (cleared first); returns its size.
pub fn encode_frame(entry: &Entry, out: &mut Vec<u8>) -> Result<usize, FormatError> {
    out.clear();
    out.put_u64(0); // header placeholder
    out.put_u8(entry.kind as u8);
    put_str(out, &entry.topic)?;
    put_str(out, entry.response_topic.as_deref().unwrap_or(""))?;
    out.put_u8(u8::try_from(entry.properties.len()).map_err(|_| FormatError::FieldTooLong)?);
    for (name, value) in &entry.properties {
        put_str(out, name)?;
        put_str(out, value)?;
    }
    out.extend_from_slice(&entry.payload);
    let body_len = u32::try_from(out.len() - FRAME_HEADER).map_err(|_| FormatError::FieldTooLong)?;
    let crc = crc32fast::hash(&out[FRAME_HEADER..]);
    out[..4].copy_from_slice(&body_len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out.len())
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), FormatError> {
    out.put_u16_le(u16::try_from(s.len()).map_err(|_| FormatError::FieldTooLong)?);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Decodes an entry from a frame body; the payload is a slice of `body`.
pub fn decode_entry(body: &Bytes) -> Result<Entry, FormatError> {
    let mut r = Reader { buf: body, at: 0 };
    let kind = match r.u8()? {
        0 => EntryKind::Record,
        1 => EntryKind::Event,
        2 => EntryKind::RuleEvent,
        _ => return Err(FormatError::Malformed("unknown entry kind")),
    };
    let topic = r.str()?.to_owned();
    let response_topic = Some(r.str()?).filter(|t| !t.is_empty()).map(str::to_owned);
    let n = r.u8()?;
    let mut properties = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        properties.push((r.str()?.to_owned(), r.str()?.to_owned()));
    }
    Ok(Entry { kind, topic, response_topic, properties, payload: body.slice(r.at..) })
}

struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(FormatError::Malformed("length overflow"))?;
        let bytes = self.buf.get(self.at..end).ok_or(FormatError::Malformed("field runs past the body"))?;
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    fn str(&mut self) -> Result<&str, FormatError> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        std::str::from_utf8(self.take(len)?).map_err(|_| FormatError::Malformed("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry() -> impl Strategy<Value = Entry> {
        (
            prop_oneof![Just(EntryKind::Record), Just(EntryKind::Event), Just(EntryKind::RuleEvent)],
            "[a-z/:+]{0,40}",
            proptest::option::of("[a-z/]{1,20}"),
            proptest::collection::vec(("[a-z-]{0,10}", "\\PC{0,10}"), 0..4),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(kind, topic, response_topic, properties, payload)| Entry {
                kind,
                topic,
                response_topic,
                properties,
                payload: Bytes::from(payload),
            })
    }

    proptest! {
        /// Whatever is encoded decodes back to the same entry.
        #[test]
        fn frames_round_trip(e in entry()) {
            let mut out = Vec::new();
            let n = encode_frame(&e, &mut out).unwrap();
            let (size, body) = decode_frame(&out, u32::MAX).unwrap().unwrap();
            prop_assert_eq!(size, n);
            prop_assert_eq!(decode_entry(&Bytes::copy_from_slice(body)).unwrap(), e);
        }

        /// Every strict prefix of a frame is reported truncated, never
        /// accepted and never a panic.
        #[test]
        fn cut_frames_are_truncated(e in entry(), cut in any::<prop::sample::Index>()) {
            let mut out = Vec::new();
            encode_frame(&e, &mut out).unwrap();
            let at = cut.index(out.len() - 1) + 1; // 1 ..= len - 1
            prop_assert_eq!(decode_frame(&out[..at], u32::MAX), Err(FormatError::Truncated));
        }

        /// A flipped bit anywhere in the body is caught by the CRC.
        #[test]
        fn damaged_bodies_fail_the_checksum(e in entry(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut out = Vec::new();
            encode_frame(&e, &mut out).unwrap();
            let i = FRAME_HEADER + at.index(out.len() - FRAME_HEADER);
            out[i] ^= 1 << bit;
            prop_assert_eq!(decode_frame(&out, u32::MAX), Err(FormatError::Checksum));
        }

        /// Arbitrary bytes never panic either decoder, and a length above the
        /// maximum is refused before it is used.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Some((size, body))) = decode_frame(&bytes, 64) {
                prop_assert!(size <= bytes.len() && body.len() <= 64);
            }
            let _ = decode_entry(&Bytes::from(bytes));
        }
    }

    proptest! {
        /// A segment of intact frames followed by any garbage: every intact
        /// frame is found, in order, and the garbage is reported as damage
        /// (or, if it happens to be empty, as a clean end).
        #[test]
        fn scans_keep_every_frame_before_the_damage(
            entries in proptest::collection::vec(entry(), 0..6),
            garbage in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut file = MAGIC.to_vec();
            let mut frame = Vec::new();
            for e in &entries {
                encode_frame(e, &mut frame).unwrap();
                file.extend_from_slice(&frame);
            }
            let clean_end = file.len();
            file.extend_from_slice(&garbage);
            let found = scan(&file, 0, 1 << 20);
            prop_assert!(found.frames.len() >= entries.len());
            for ((offset, size), e) in found.frames.iter().zip(&entries) {
                let (_, body) = decode_frame(&file[*offset..], 1 << 20).unwrap().unwrap();
                prop_assert_eq!(*size, FRAME_HEADER + body.len());
                prop_assert_eq!(&decode_entry(&Bytes::copy_from_slice(body)).unwrap(), e);
            }
            if garbage.is_empty() {
                prop_assert_eq!(found.damage, None);
            } else if found.frames.len() == entries.len() {
                prop_assert_eq!(found.damage.map(|(at, _)| at), Some(clean_end));
            }
        }
    }

    #[test]
    fn oversized_lengths_are_refused() {
        let mut frame = vec![0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        frame.extend_from_slice(&[0; 16]);
        assert!(matches!(decode_frame(&frame, 1 << 20), Err(FormatError::TooLong { .. })));
        assert_eq!(check_magic(b"USPBQ"), Err(FormatError::Truncated));
        assert_eq!(check_magic(b"XXXXXXXXXX"), Err(FormatError::BadMagic));
        assert_eq!(check_magic(&MAGIC), Ok(8));
    }
}
