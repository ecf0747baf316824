//! The log's bytes: the header, frames written by [`FrameBuilder`], and [`parse`], which
//! reads them back and says where the whole frames end.

use super::Revision;
use std::collections::HashMap;

/// The first bytes of every log: what it is, and the version of its format.
pub const MAGIC: &[u8; 16] = b"orrery-store-v1\n";

/// `len` and `crc32`, before each frame's payload.
const HEAD: usize = 8;
/// `revision` and `records`, at the start of each payload.
const PREAMBLE: usize = 12;
const PUT: u8 = 0;
const DELETE: u8 = 1;

/// Writes one frame at the end of a buffer: records, then [`FrameBuilder::finish`] fills
/// in its length, count and checksum.
pub struct FrameBuilder<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    records: u32,
}

impl<'a> FrameBuilder<'a> {
    /// A frame after which the newest revision is `revision`, written over `buf`'s
    /// contents.
    pub fn new(buf: &'a mut Vec<u8>, revision: Revision) -> Self {
        buf.clear();
        Self::append(buf, revision)
    }

    /// A frame after `buf`'s contents.
    pub fn append(buf: &'a mut Vec<u8>, revision: Revision) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&[0; HEAD]);
        buf.extend_from_slice(&revision.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self { buf, start, records: 0 }
    }

    pub fn put(&mut self, key: &str, revision: Revision, json: &[u8]) {
        self.key(PUT, key);
        self.buf.extend_from_slice(&revision.to_le_bytes());
        self.buf.extend_from_slice(&len32(json.len()).to_le_bytes());
        self.buf.extend_from_slice(json);
    }

    pub fn delete(&mut self, key: &str) {
        self.key(DELETE, key);
    }

    fn key(&mut self, tag: u8, key: &str) {
        self.records += 1;
        self.buf.push(tag);
        self.buf.extend_from_slice(&len32(key.len()).to_le_bytes());
        self.buf.extend_from_slice(key.as_bytes());
    }

    /// Whether no record was written yet.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The payload's size so far.
    pub fn payload_len(&self) -> usize {
        self.buf.len() - self.start - HEAD
    }

    pub fn finish(self) {
        let payload = self.start + HEAD;
        self.buf[payload + 8..payload + PREAMBLE].copy_from_slice(&self.records.to_le_bytes());
        let len = len32(self.buf.len() - payload);
        let crc = crc32fast::hash(&self.buf[payload..]);
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[self.start + 4..payload].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Objects are at most 1.5 MiB and frames are cut well below 4 GiB; a length past `u32`
/// would be a bug, not an input.
fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("a log record or frame under 4 GiB")
}

/// The bytes a put of `json` at `key` takes in a frame.
pub fn put_size(key: &str, json: &[u8]) -> u64 {
    (1 + 4 + key.len() + 8 + 4 + json.len()) as u64
}

/// What a log holds.
#[derive(Debug, PartialEq)]
pub struct Parsed<'a> {
    /// The newest revision any frame recorded.
    pub revision: Revision,
    /// Each key's last put, by encoded key.
    pub entries: HashMap<&'a str, (Revision, &'a [u8])>,
    /// Where the last whole frame ends.
    pub valid: usize,
    /// Bytes after it: an incomplete last frame.
    pub torn: usize,
}

/// Reads a whole log. A frame cut short or failing its checksum ends it (see
/// [`Parsed::torn`]); a log that does not start with [`MAGIC`], or a frame that passes its
/// checksum but does not parse, is an error.
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, String> {
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err("not an orrery store log (its header is missing)".into());
    };
    let mut parsed = Parsed { revision: 0, entries: HashMap::new(), valid: MAGIC.len(), torn: 0 };
    while !rest.is_empty() {
        let Some(payload) = whole_frame(rest) else { break };
        apply(payload, &mut parsed).map_err(|e| format!("corrupt commit at byte {}: {e}", parsed.valid))?;
        parsed.valid += HEAD + payload.len();
        rest = &rest[HEAD + payload.len()..];
    }
    parsed.torn = bytes.len() - parsed.valid;
    Ok(parsed)
}

/// The payload of the frame `bytes` starts with, if it is whole and its checksum holds.
fn whole_frame(bytes: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEAD)?.try_into().ok()?);
    let payload = bytes.get(HEAD..HEAD.checked_add(len)?)?;
    (len >= PREAMBLE && crc32fast::hash(payload) == crc).then_some(payload)
}

fn apply<'a>(payload: &'a [u8], parsed: &mut Parsed<'a>) -> Result<(), String> {
    let mut r = Reader(payload);
    let revision = r.u64()?;
    let records = r.u32()?;
    for _ in 0..records {
        let tag = r.take(1)?[0];
        let key = r.sized()?;
        let key = std::str::from_utf8(key).map_err(|_| "a key is not UTF-8".to_owned())?;
        match tag {
            PUT => {
                let rev = r.u64()?;
                let json = r.sized()?;
                parsed.entries.insert(key, (rev, json));
            }
            DELETE => {
                parsed.entries.remove(key);
            }
            other => return Err(format!("unknown record tag {other}")),
        }
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the last record", r.0.len()));
    }
    parsed.revision = parsed.revision.max(revision);
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a record runs past the end of its commit".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A `u32` length and that many bytes.
    fn sized(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}
