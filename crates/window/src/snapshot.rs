//! Snapshot and restore of a [`WindowedState`]: a versioned, compact binary form with a checksum.
//!
//! Layout (version 1; integers little-endian, `v` = LEB128 varint):
//!
//! ```text
//! "RWIN" | version u8 | total length u64 | aggregate u8 | steps u8 | span i64 | has newest u8 | newest i64
//! | v key count | keys, least recently updated first | xxh3-64 of everything before it, u64
//! key:      key u128 | v (entries << 2 | has folded << 1 | has evidence)
//!           | entries: v (newest - time of the first), then v (time - previous time), each followed by
//!             its payload (Sum, Values: f64; Distinct: u64; Sequence: u8 step; Count: nothing)
//!           | [v buckets | per bucket: v (newest - min time), v (max - min), v count, f64 sum if Sum or Values]
//!           | [v ids | per id: v (newest - time), v length, UTF-8 bytes]
//! ```

use std::collections::VecDeque;

use xxhash_rust::xxh3::xxh3_64;

use super::events::{Config, Entry, Events, Folded, heap_from};
use super::keyset::KeySet;
use super::state::{Counters, WindowedState};
use super::{Aggregate, Key, MAX_EVIDENCE_ID_BYTES, WindowLimits};

const MAGIC: &[u8; 4] = b"RWIN";
const VERSION: u8 = 1;
/// Magic, version, length, aggregate, steps, span, has newest, newest.
const HEADER_LEN: usize = 4 + 1 + 8 + 1 + 1 + 8 + 1 + 8;
const CHECKSUM_LEN: usize = 8;
/// The fewest bytes a key takes (key, flags, one delta): bounds preallocation by untrusted counts.
const MIN_KEY_LEN: usize = 16 + 1 + 1;

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot magic.
    #[error("not a window snapshot: expected the magic \"RWIN\"")]
    BadMagic,
    /// The snapshot was written by a version this build cannot read.
    #[error("window snapshot version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the snapshot.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The bytes end before the snapshot does.
    #[error("window snapshot is truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Bytes given.
        found: usize,
        /// Bytes the snapshot says it has (or the fewest any snapshot has).
        expected: usize,
    },
    /// The checksum does not match the contents.
    #[error("window snapshot checksum does not match: the bytes are corrupted")]
    ChecksumMismatch,
    /// The contents are inconsistent.
    #[error("window snapshot is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl WindowedState {
    /// Appends the state to `out` in the snapshot format (see the module doc). Closed windows not
    /// yet returned by [`expire`](Self::expire) and the counters are not included.
    pub fn snapshot(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        let length_at = out.len();
        out.extend_from_slice(&0u64.to_le_bytes());
        let (tag, steps) = aggregate_tag(self.cfg.aggregate);
        out.push(tag);
        out.push(steps);
        out.extend_from_slice(&self.cfg.span.to_le_bytes());
        out.push(u8::from(self.newest_ms.is_some()));
        let newest = self.newest_ms.unwrap_or(0);
        out.extend_from_slice(&newest.to_le_bytes());
        put_varint(out, self.keys.len() as u64);
        for slot in self.keys.in_update_order() {
            out.extend_from_slice(&slot.key.0.to_le_bytes());
            let (entries, folded, evidence_times, evidence_ids) = slot.events.parts();
            let flags = (u64::from(!folded.is_empty()) << 1) | u64::from(!evidence_times.is_empty());
            put_varint(out, ((entries.len() as u64) << 2) | flags);
            let mut previous = newest;
            for (position, entry) in entries.iter().enumerate() {
                let delta = if position == 0 { previous.wrapping_sub(entry.time) } else { entry.time.wrapping_sub(previous) };
                put_varint(out, delta as u64);
                previous = entry.time;
                match self.cfg.aggregate {
                    Aggregate::Count => {}
                    Aggregate::Sum | Aggregate::Values | Aggregate::Distinct => out.extend_from_slice(&entry.payload.to_le_bytes()),
                    Aggregate::Sequence { .. } => out.push(entry.payload as u8),
                }
            }
            if !folded.is_empty() {
                put_varint(out, folded.len() as u64);
                for bucket in folded {
                    put_varint(out, newest.wrapping_sub(bucket.min_time) as u64);
                    put_varint(out, bucket.max_time.wrapping_sub(bucket.min_time) as u64);
                    put_varint(out, bucket.count);
                    if self.cfg.sums_values() {
                        out.extend_from_slice(&bucket.sum.to_le_bytes());
                    }
                }
            }
            if !evidence_times.is_empty() {
                put_varint(out, evidence_times.len() as u64);
                for (time, id) in evidence_times.iter().zip(evidence_ids) {
                    put_varint(out, newest.wrapping_sub(*time) as u64);
                    put_varint(out, id.len() as u64);
                    out.extend_from_slice(id.as_bytes());
                }
            }
        }
        let total = (out.len() - start + CHECKSUM_LEN) as u64;
        out[length_at..length_at + 8].copy_from_slice(&total.to_le_bytes());
        let checksum = xxh3_64(&out[start..]);
        out.extend_from_slice(&checksum.to_le_bytes());
    }

    /// Reads a snapshot back, under `limits` (which may differ from the snapshot's: keys beyond
    /// `max_keys` are dropped least recently updated first and counted as evicted, events beyond
    /// `max_values_per_key` are folded). The span and aggregate come from the snapshot: compare them
    /// with the rule's before use. Malformed bytes give a [`SnapshotError`], never a panic.
    pub fn restore(bytes: &[u8], limits: WindowLimits) -> Result<WindowedState, SnapshotError> {
        let body = check_frame(bytes)?;
        let mut reader = Reader { bytes: body, at: 0 };
        reader.skip(4 + 1 + 8)?;
        let tag = reader.byte()?;
        let steps = reader.byte()?;
        let aggregate = aggregate_of(tag, steps).ok_or(reader.corrupt("unknown aggregate"))?;
        let span = reader.i64()?;
        if span < 1 {
            return Err(reader.corrupt("span is not positive"));
        }
        let has_newest = reader.byte()?;
        let newest = reader.i64()?;
        let newest_ms = match has_newest {
            0 => None,
            1 => Some(newest),
            _ => return Err(reader.corrupt("bad newest-time flag")),
        };
        let key_count = reader.varint()?;
        if newest_ms.is_none() && key_count > 0 {
            return Err(reader.corrupt("keys without a newest time"));
        }

        let limits = limits.clamped();
        let cfg = Config::new(span, aggregate, &limits);
        let mut counters = Counters::default();
        let mut keys = KeySet::new();
        let skip = key_count.saturating_sub(limits.max_keys as u64);
        counters.evicted = skip;
        let plausible = reader.remaining() / MIN_KEY_LEN;
        keys.reserve((key_count - skip).min(plausible as u64) as usize);
        let mut heap_bytes = 0;
        for position in 0..key_count {
            let key_at = reader.at;
            let (key, events, folded) = read_key(&mut reader, &cfg, newest)?;
            if position < skip {
                continue;
            }
            counters.folded += folded;
            heap_bytes += events.heap_bytes();
            if keys.push_new(key, events).is_err() {
                return Err(SnapshotError::Corrupt { offset: key_at, what: "duplicate key" });
            }
        }
        if reader.remaining() != 0 {
            return Err(reader.corrupt("trailing bytes after the last key"));
        }
        Ok(WindowedState::restored(cfg, limits, keys, newest_ms, heap_bytes, counters))
    }
}

/// Checks magic, version, length and checksum; returns the bytes without the checksum.
fn check_frame(bytes: &[u8]) -> Result<&[u8], SnapshotError> {
    let fewest = HEADER_LEN + 1 + CHECKSUM_LEN;
    if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if bytes.len() < fewest {
        return Err(SnapshotError::Truncated { found: bytes.len(), expected: fewest });
    }
    if bytes[4] != VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: bytes[4], supported: VERSION });
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&bytes[5..13]);
    let expected = u64::from_le_bytes(length);
    if (bytes.len() as u64) < expected {
        return Err(SnapshotError::Truncated { found: bytes.len(), expected: usize::try_from(expected).unwrap_or(usize::MAX) });
    }
    if bytes.len() as u64 > expected || (expected as usize) < fewest {
        return Err(SnapshotError::Corrupt { offset: 5, what: "length does not match the bytes given" });
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let mut stored = [0u8; 8];
    stored.copy_from_slice(checksum);
    if xxh3_64(body) != u64::from_le_bytes(stored) {
        return Err(SnapshotError::ChecksumMismatch);
    }
    Ok(body)
}

fn read_key(reader: &mut Reader<'_>, cfg: &Config, newest: i64) -> Result<(Key, Events, u64), SnapshotError> {
    let key = Key(u128::from_le_bytes(reader.array::<16>()?));
    let header = reader.varint()?;
    let (count, has_folded, has_evidence) = (header >> 2, header & 2 != 0, header & 1 != 0);
    if count == 0 {
        return Err(reader.corrupt("key without events"));
    }
    // Most keys hold one event: that one is kept aside, so an inline key costs no allocation.
    let mut entries = if count > 1 { VecDeque::with_capacity(count.min(reader.remaining() as u64) as usize) } else { VecDeque::new() };
    let mut single = None;
    let mut previous = newest;
    for position in 0..count {
        let delta = reader.delta()?;
        let time = if position == 0 { newest.checked_sub(delta) } else { previous.checked_add(delta) };
        let time = time.filter(|&time| time <= newest).ok_or(reader.corrupt("event time out of range"))?;
        let payload = match cfg.aggregate {
            Aggregate::Count => 0,
            Aggregate::Sum | Aggregate::Values => {
                let bits = u64::from_le_bytes(reader.array::<8>()?);
                if !f64::from_bits(bits).is_finite() {
                    return Err(reader.corrupt("value is not finite"));
                }
                bits
            }
            Aggregate::Distinct => u64::from_le_bytes(reader.array::<8>()?),
            Aggregate::Sequence { steps } => {
                let step = reader.byte()?;
                if step >= steps {
                    return Err(reader.corrupt("step out of range"));
                }
                u64::from(step)
            }
        };
        let entry = Entry { time, payload };
        if entries.back().is_some_and(|last: &Entry| last.order() > entry.order()) {
            return Err(reader.corrupt("events out of order"));
        }
        if count == 1 {
            single = Some(entry);
        } else {
            entries.push_back(entry);
        }
        previous = time;
    }
    let mut folded = Vec::new();
    if has_folded {
        let buckets = reader.varint()?;
        for _ in 0..buckets {
            let min_time = newest.checked_sub(reader.delta()?).ok_or(reader.corrupt("bucket time out of range"))?;
            let max_time = min_time.checked_add(reader.delta()?).ok_or(reader.corrupt("bucket time out of range"))?;
            let count = reader.varint()?;
            let sum = if cfg.sums_values() { f64::from_le_bytes(reader.array::<8>()?) } else { 0.0 };
            if count == 0 || !sum.is_finite() || max_time > newest {
                return Err(reader.corrupt("bad folded bucket"));
            }
            if folded.last().is_some_and(|last: &Folded| last.max_time >= min_time) {
                return Err(reader.corrupt("folded buckets out of order"));
            }
            folded.push(Folded { min_time, max_time, count, sum });
        }
    }
    let (mut evidence_times, mut evidence_ids) = (Vec::new(), Vec::<Box<str>>::new());
    if has_evidence {
        let ids = reader.varint()?;
        for _ in 0..ids {
            let time = newest.checked_sub(reader.delta()?).ok_or(reader.corrupt("evidence time out of range"))?;
            let length = reader.varint()?;
            if length > MAX_EVIDENCE_ID_BYTES as u64 {
                return Err(reader.corrupt("evidence id too long"));
            }
            let id = std::str::from_utf8(reader.take(length as usize)?).map_err(|_| reader.corrupt("evidence id is not UTF-8"))?;
            if let (Some(&last_time), Some(last_id)) = (evidence_times.last(), evidence_ids.last())
                && (last_time, &**last_id) > (time, id)
            {
                return Err(reader.corrupt("evidence out of order"));
            }
            evidence_times.push(time);
            evidence_ids.push(id.into());
        }
    }
    if let Some(entry) = single {
        if folded.is_empty() && evidence_times.is_empty() {
            return Ok((key, Events::One(entry), 0));
        }
        entries.push_back(entry);
    }
    let (events, folded_count) = Events::from_parts(heap_from(entries, folded, evidence_times, evidence_ids), cfg);
    Ok((key, events, folded_count))
}

fn aggregate_tag(aggregate: Aggregate) -> (u8, u8) {
    match aggregate {
        Aggregate::Count => (0, 0),
        Aggregate::Sum => (1, 0),
        Aggregate::Distinct => (2, 0),
        Aggregate::Values => (3, 0),
        Aggregate::Sequence { steps } => (4, steps),
    }
}

fn aggregate_of(tag: u8, steps: u8) -> Option<Aggregate> {
    match (tag, steps) {
        (0, 0) => Some(Aggregate::Count),
        (1, 0) => Some(Aggregate::Sum),
        (2, 0) => Some(Aggregate::Distinct),
        (3, 0) => Some(Aggregate::Values),
        (4, 1..) => Some(Aggregate::Sequence { steps }),
        _ => None,
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor over untrusted bytes: every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn corrupt(&self, what: &'static str) -> SnapshotError {
        SnapshotError::Corrupt { offset: self.at, what }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or(self.corrupt("a field runs past the end"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn skip(&mut self, len: usize) -> Result<(), SnapshotError> {
        self.take(len).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn byte(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array::<8>()?))
    }

    fn varint(&mut self) -> Result<u64, SnapshotError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    /// A non-negative time difference.
    fn delta(&mut self) -> Result<i64, SnapshotError> {
        let value = self.varint()?;
        i64::try_from(value).map_err(|_| self.corrupt("time difference out of range"))
    }
}
