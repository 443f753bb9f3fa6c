//! Hand-laid frames for the most frequent requests and responses: a
//! transaction of one GET, and one of one SET.
//!
//! A `FlatBufferBuilder` writes back to front, then for every table looks
//! through the vtables it already wrote for an equal one to share (a
//! binary search comparing bytes): for a served SET that was ~5% of the
//! server's CPU. These responses always have the same shape, so they are
//! written front to back, straight into the frame, with fixed vtables.
//! The bytes differ from the builder's (every field is written, defaults
//! included); what they decode to does not — the tests decode both
//! through the verifier.
//!
//! Layout (offsets from the start of the FlatBuffer, after the frame's
//! length prefix; every table starts 4 bytes past a multiple of 8 when it
//! has `u64` fields, so that they are 8-aligned):
//!
//! | part | bytes |
//! |---|---|
//! | root offset | `u32` → Response |
//! | Response vtable | 10: size, table size 20, `id` @4, `body_type` @16, `body` @12 |
//! | Response | soffset, `id: u64`, `body: u32` → TxnResult, `body_type: u8` = TxnResult, 3 pad |
//! | TxnResult vtable | 8: size, table size 16, `results` @12, `commit_version` @4 |
//! | TxnResult | soffset, `commit_version: u64`, `results: u32` → vector |
//! | results | `u32` 1, `u32` → TxnOpResult |
//! | TxnOpResult vtable | 8: size, table size 12, `result_type` @8, `result` @4 |
//! | TxnOpResult | soffset, `result: u32` → GetResult / SetResult, `result_type: u8`, 3 pad |
//! | GetResult vtable + table | 6 (+2 pad): table size 8, `item` @4; soffset, `item: u32` → KeyValue — or, with no item, 4: table size 4; soffset |
//! | KeyValue vtable | 12: size, table size 28, `key` @20, `value` @24, `version` @4, `expires_at_unix_ms` @12 |
//! | KeyValue | soffset, `version: u64`, `expires_at_unix_ms: u64` (0 = never), `key: u32`, `value: u32` |
//! | key, value | each `u32` length then the bytes (the key padded to 4) |
//! | SetResult vtable + table | 4: size, table size 4; soffset |
//!
//! Requests ([`get_request_frame`], [`set_request_frame`]) the same way:
//!
//! | part | bytes |
//! |---|---|
//! | root offset | `u32` → Request |
//! | Request vtable | 10: size, table size 20, `id` @4, `body_type` @16, `body` @12 |
//! | Request | soffset, `id: u64`, `body: u32` → Txn, `body_type: u8` = Txn, 3 pad |
//! | Txn vtable + table | 6 (+2 pad): table size 8, `ops` @4; soffset, `ops: u32` → vector |
//! | ops | `u32` 1, `u32` → TxnOp |
//! | TxnOp vtable | 8: size, table size 12, `op_type` @8, `op` @4 |
//! | TxnOp | soffset, `op: u32` → Get / Set, `op_type: u8`, 3 pad |
//! | Get vtable + table | 6 (+2 pad): table size 8, `key` @4; soffset, `key: u32` |
//! | Set vtable | 10 (+2 pad): table size 20, `key` @12, `value` @16, `ttl_ms` @4 |
//! | Set | soffset, `ttl_ms: u64` (0 = none), `key: u32`, `value: u32` |
//! | key, value | each `u32` length then the bytes (the key padded to 4) |

use super::{FRAME_PREFIX_LEN, KeyValueRef, Op, OpResult, Request, RequestBody, Response, ResponseBody, TxnResult};
use crate::generated::wire as fb;

/// A FlatBuffer written front to back at the end of `out`, from `base`.
struct Forward<'a> {
    out: &'a mut Vec<u8>,
    base: usize,
}

impl Forward<'_> {
    fn pos(&self) -> usize {
        self.out.len() - self.base
    }

    /// Zero bytes up to a position `rem` past a multiple of `align`.
    fn pad(&mut self, align: usize, rem: usize) {
        while self.pos() % align != rem {
            self.out.push(0);
        }
    }

    fn u16s(&mut self, values: &[u16]) {
        for v in values {
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u32` offset to fill in with [`Forward::point`]; its position.
    fn offset(&mut self) -> usize {
        let at = self.pos();
        self.u32(0);
        at
    }

    /// Points the offset at `at` to the current position (offsets point
    /// forward: everything is written after what refers to it).
    fn point(&mut self, at: usize) {
        let delta = (self.pos() - at) as u32;
        if let Some(slot) = self.out.get_mut(self.base + at..self.base + at + 4) {
            slot.copy_from_slice(&delta.to_le_bytes());
        }
    }

    /// Starts a table here whose vtable is at `vtable`: its soffset.
    fn table(&mut self, vtable: usize) {
        let soffset = (self.pos() - vtable) as i32;
        self.out.extend_from_slice(&soffset.to_le_bytes());
    }

    /// Writes `vtable` here, then starts its table, pointed to from the
    /// offset at `from`: 4-aligned, or 4 past a multiple of 8 when `wide`
    /// (a table whose `u64` fields follow the soffset).
    fn start_table(&mut self, from: usize, vtable: &[u16], wide: bool) {
        let vt = self.pos();
        self.u16s(vtable);
        if wide {
            self.pad(8, 4)
        } else {
            self.pad(4, 0)
        }
        self.point(from);
        self.table(vt);
    }

    /// A `[ubyte]` vector here.
    fn bytes(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.out.extend_from_slice(bytes);
    }
}

/// Writes a frame at the end of `out`: the length prefix, the root offset
/// and the root table (Request or Response: the same shape, `id`, then a
/// union `body` of type `body_type` that `body` writes, given where the
/// offset to it is); then fills in the prefix.
fn envelope(out: &mut Vec<u8>, id: u64, body_type: u8, body: impl FnOnce(&mut Forward<'_>, usize)) {
    let prefix = out.len();
    out.extend_from_slice(&[0; 4]);
    let base = out.len();
    let mut w = Forward { out, base };
    let root = w.offset();
    w.start_table(root, &[10, 20, 4, 16, 12], true);
    w.u64(id);
    let offset = w.offset();
    w.out.extend_from_slice(&[body_type, 0, 0, 0]);
    body(&mut w, offset);
    let len = w.pos() as u32;
    if let Some(slot) = out.get_mut(prefix..prefix + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
}

/// Points the vector offset at `vector` here and writes a vector of one
/// TxnOp or TxnOpResult (the same shape: a union of type `union_type`)
/// whose member `member` writes, given where the offset to it is.
fn one_element(w: &mut Forward<'_>, vector: usize, union_type: u8, member: impl FnOnce(&mut Forward<'_>, usize)) {
    w.point(vector);
    w.u32(1);
    let element = w.offset();
    w.start_table(element, &[8, 12, 8, 4], false);
    let offset = w.offset();
    w.out.extend_from_slice(&[union_type, 0, 0, 0]);
    member(w, offset);
}

/// Writes the frame of a response: the tables down to the TxnOpResult,
/// whose `result` (of type `result_type`) `tail` writes.
fn frame(
    out: &mut Vec<u8>,
    id: u64,
    commit_version: u64,
    result_type: fb::OpResult,
    tail: impl FnOnce(&mut Forward<'_>, usize),
) {
    envelope(out, id, fb::ResponseBody::TxnResult.0, |w, body| {
        w.start_table(body, &[8, 16, 12, 4], true);
        w.u64(commit_version);
        let results = w.offset();
        one_element(w, results, result_type.0, tail);
    });
}

/// Appends to `out` the frame answering request `id`, a transaction of one
/// GET that read `item`.
///
/// # Panics
///
/// If the key or value exceeds `u32::MAX` bytes (no frame can carry it).
pub fn get_frame(out: &mut Vec<u8>, id: u64, item: Option<KeyValueRef<'_>>) {
    let fits = item.is_none_or(|kv| u32::try_from(kv.key.len() + kv.value.len()).is_ok());
    assert!(fits, "a GET result larger than a frame");
    match item {
        None => frame(out, id, 0, fb::OpResult::GetResult, |w, result| w.start_table(result, &[4, 4], false)),
        Some(kv) => item_frame(out, id, kv, answer_head()),
    }
}

/// The frame of a GET answer with an item, written table by table (what
/// its [`Head`] is cut from; the tests compare the two).
fn item_frame_by_tables(out: &mut Vec<u8>, id: u64, kv: KeyValueRef<'_>) {
    frame(out, id, 0, fb::OpResult::GetResult, |w, result| {
        w.start_table(result, &[6, 8, 4], false);
        let item = w.offset();
        w.start_table(item, &[12, 28, 20, 24, 4, 12], true);
        w.u64(kv.version);
        w.u64(kv.expires_at_unix_ms.unwrap_or(0));
        let key = w.offset();
        let value = w.offset();
        w.point(key);
        w.bytes(kv.key);
        w.pad(4, 0);
        w.point(value);
        w.bytes(kv.value);
    });
}

/// The bytes of a laid frame up to its key (the FlatBuffer after the
/// length prefix, ending with the key's length), cut once from a writer's
/// own output, with where its `u64` fields are: every frame of that shape
/// is this head with those fields, the key's length and (when a value
/// follows the key) the value's offset changed.
#[derive(Debug)]
struct Head<const N: usize> {
    bytes: Vec<u8>,
    /// Where each marked `u64` field is, in the order of the markers given
    /// to [`Head::cut`].
    at: [usize; N],
}

impl<const N: usize> Head<N> {
    /// The head of `frame` (as a writer wrote it, with the length prefix,
    /// an empty key and `tail` bytes after the key's length), its fields
    /// written as `markers`; `None` if a marker is not found exactly once
    /// (then the shape is written table by table and read through the
    /// verifier: the tests pin that every head is cut).
    fn cut(frame: &[u8], tail: usize, markers: [u64; N]) -> Option<Head<N>> {
        let bytes = frame.get(FRAME_PREFIX_LEN..frame.len().checked_sub(tail)?)?.to_vec();
        let find = |marker: &u64| {
            let mut at = bytes.windows(8).enumerate().filter(|(_, w)| *w == marker.to_le_bytes()).map(|(i, _)| i);
            match (at.next(), at.next()) {
                (Some(i), None) => Some(i),
                _ => None,
            }
        };
        let mut at = [0; N];
        for (slot, marker) in at.iter_mut().zip(&markers) {
            *slot = find(marker)?;
        }
        Some(Head { at, bytes })
    }
}

const MARK_ID: u64 = 0xA1A2_A3A4_A5A6_A7A8;
const MARK_2: u64 = 0xB1B2_B3B4_B5B6_B7B8;
const MARK_3: u64 = 0xC1C2_C3C4_C5C6_C7C8;

/// A GET answer with an item: id, version, expiry.
fn answer_head() -> Option<&'static Head<3>> {
    static HEAD: std::sync::LazyLock<Option<Head<3>>> = std::sync::LazyLock::new(|| {
        let mut frame = Vec::new();
        let kv = KeyValueRef { key: b"", value: b"", version: MARK_2, expires_at_unix_ms: Some(MARK_3) };
        item_frame_by_tables(&mut frame, MARK_ID, kv);
        // The (empty) value's length follows the key.
        Head::cut(&frame, 4, [MARK_ID, MARK_2, MARK_3])
    });
    HEAD.as_ref()
}

/// A GET request: id.
fn get_request_head() -> Option<&'static Head<1>> {
    static HEAD: std::sync::LazyLock<Option<Head<1>>> = std::sync::LazyLock::new(|| {
        let mut frame = Vec::new();
        get_request_frame(&mut frame, MARK_ID, b"");
        Head::cut(&frame, 0, [MARK_ID])
    });
    HEAD.as_ref()
}

/// A SET request: id, `ttl_ms`.
fn set_request_head() -> Option<&'static Head<2>> {
    static HEAD: std::sync::LazyLock<Option<Head<2>>> = std::sync::LazyLock::new(|| {
        let mut frame = Vec::new();
        set_request_frame(&mut frame, MARK_ID, b"", b"", Some(MARK_2));
        Head::cut(&frame, 4, [MARK_ID, MARK_2])
    });
    HEAD.as_ref()
}

/// Writes a GET answer with an item from `head` (or table by table
/// without one). The head ends with the key offset, the value offset and
/// the key's length; the value's length follows the key padded to 4.
fn item_frame(out: &mut Vec<u8>, id: u64, kv: KeyValueRef<'_>, head: Option<&Head<3>>) {
    let Some(head) = head else { return item_frame_by_tables(out, id, kv) };
    let n = head.bytes.len();
    let value_len_at = (n + kv.key.len()).next_multiple_of(4);
    let total = value_len_at + 4 + kv.value.len();
    out.reserve(FRAME_PREFIX_LEN + total);
    // Fits: checked by `get_frame`, and the head is small.
    out.extend_from_slice(&(total as u32).to_le_bytes());
    let base = out.len();
    out.extend_from_slice(&head.bytes);
    let mut patch = |at: usize, bytes: &[u8]| {
        if let Some(slot) = out.get_mut(base + at..base + at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    };
    let [id_at, version_at, expires_at] = head.at;
    patch(id_at, &id.to_le_bytes());
    patch(version_at, &kv.version.to_le_bytes());
    patch(expires_at, &kv.expires_at_unix_ms.unwrap_or(0).to_le_bytes());
    patch(n - 8, &((value_len_at - (n - 8)) as u32).to_le_bytes());
    patch(n - 4, &(kv.key.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.key);
    out.resize(base + value_len_at, 0);
    out.extend_from_slice(&(kv.value.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.value);
}

/// Appends to `out` the frame answering request `id`, a transaction of one
/// SET committed at `commit_version`.
pub fn set_frame(out: &mut Vec<u8>, id: u64, commit_version: u64) {
    frame(out, id, commit_version, fb::OpResult::SetResult, |w, result| w.start_table(result, &[4, 4], false));
}

/// Writes the frame of a request: the tables down to the TxnOp, whose
/// `op` (of type `op_type`) `tail` writes.
fn request_frame(out: &mut Vec<u8>, id: u64, op_type: fb::Op, tail: impl FnOnce(&mut Forward<'_>, usize)) {
    envelope(out, id, fb::RequestBody::Txn.0, |w, body| {
        w.start_table(body, &[6, 8, 4], false);
        let ops = w.offset();
        one_element(w, ops, op_type.0, tail);
    });
}

/// Appends to `out` the frame of request `id`: a transaction of one GET
/// of `key`.
///
/// # Panics
///
/// If the key exceeds `u32::MAX` bytes (no frame can carry it).
pub fn get_request_frame(out: &mut Vec<u8>, id: u64, key: &[u8]) {
    assert!(u32::try_from(key.len()).is_ok(), "a key larger than a frame");
    request_frame(out, id, fb::Op::Get, |w, op| {
        w.start_table(op, &[6, 8, 4], false);
        let k = w.offset();
        w.point(k);
        w.bytes(key);
    });
}

/// Appends to `out` the frame of request `id`: a transaction of one SET
/// of `key` to `value`, expiring `ttl_ms` after its commit (`None` or 0:
/// never).
///
/// # Panics
///
/// If the key and value exceed `u32::MAX` bytes (no frame can carry them).
pub fn set_request_frame(out: &mut Vec<u8>, id: u64, key: &[u8], value: &[u8], ttl_ms: Option<u64>) {
    assert!(u32::try_from(key.len() + value.len()).is_ok(), "a SET larger than a frame");
    request_frame(out, id, fb::Op::Set, |w, op| {
        w.start_table(op, &[10, 20, 12, 16, 4], true);
        w.u64(ttl_ms.unwrap_or(0));
        let k = w.offset();
        let v = w.offset();
        w.point(k);
        w.bytes(key);
        w.pad(4, 0);
        w.point(v);
        w.bytes(value);
    });
}

fn u32_at(buf: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?) as usize)
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Whether `buf` starts with `head` except in the byte ranges `skip`
/// (sorted, inside `head`).
fn matches_head(buf: &[u8], head: &[u8], skip: &[std::ops::Range<usize>]) -> bool {
    let mut from = 0;
    for r in skip.iter().chain(std::iter::once(&(head.len()..head.len()))) {
        if buf.get(from..r.start) != head.get(from..r.start) {
            return false;
        }
        from = r.end;
    }
    true
}

/// The id and key of `buf` (a FlatBuffer, without the length prefix) if
/// it is byte for byte a frame [`get_request_frame`] writes; `None` means
/// nothing, only that it must be decoded the general way. Every byte is
/// checked (the fixed ones against the writer's, the lengths against the
/// buffer's), so what this accepts is a frame the verifier accepts and
/// decodes to the same GET (tested on arbitrary and mutated buffers),
/// for a fraction of the verifier's work: the server's fast path for the
/// most frequent request.
#[must_use]
pub fn read_get_request(buf: &[u8]) -> Option<(u64, &[u8])> {
    let head = get_request_head()?;
    let n = head.bytes.len();
    let [id_at] = head.at;
    if !matches_head(buf, &head.bytes, &[id_at..id_at + 8, n - 4..n]) {
        return None;
    }
    let key = buf.get(n..)?;
    (u32_at(buf, n - 4)? == key.len()).then_some((u64_at(buf, id_at)?, key))
}

/// [`read_get_request`] for a frame [`set_request_frame`] writes: the id,
/// key, value and `ttl_ms` (0: none).
#[must_use]
pub fn read_set_request(buf: &[u8]) -> Option<(u64, &[u8], &[u8], u64)> {
    let head = set_request_head()?;
    let n = head.bytes.len();
    let [id_at, ttl_at] = head.at;
    // The head ends with the key's offset, the value's and the key's length.
    let variable = [id_at..id_at + 8, ttl_at..ttl_at + 8, n - 8..n];
    if !matches_head(buf, &head.bytes, &variable) {
        return None;
    }
    let key_len = u32_at(buf, n - 4)?;
    let key = buf.get(n..n.checked_add(key_len)?)?;
    let value_at = (n + key_len).next_multiple_of(4);
    let padding = buf.get(n + key_len..value_at)?;
    let value = buf.get(value_at + 4..)?;
    let well_formed = padding.iter().all(|&b| b == 0)
        && u32_at(buf, n - 8)? == value_at - (n - 8)
        && u32_at(buf, value_at)? == value.len();
    well_formed.then_some((u64_at(buf, id_at)?, key, value, u64_at(buf, ttl_at)?))
}

/// Appends `request` to `out` as a laid frame if it is a transaction of
/// one GET or one SET; false, with nothing appended, otherwise.
pub fn try_request_frame(out: &mut Vec<u8>, request: &Request) -> bool {
    let RequestBody::Txn(ops) = &request.body else { return false };
    match ops.as_slice() {
        [Op::Get { key }] => get_request_frame(out, request.id, key),
        [Op::Set { key, value, ttl_ms }] => set_request_frame(out, request.id, key, value, *ttl_ms),
        _ => return false,
    }
    true
}

/// Appends `response` to `out` as a laid frame if it is one of the two
/// shapes laid here (a transaction of one GET or one SET); false, with
/// nothing appended, otherwise.
pub fn try_frame(out: &mut Vec<u8>, response: &Response) -> bool {
    let ResponseBody::Txn(TxnResult { results, commit_version }) = &response.body else { return false };
    match results.as_slice() {
        [OpResult::Set] => set_frame(out, response.id, *commit_version),
        [OpResult::Get(item)] if *commit_version == 0 => {
            get_frame(out, response.id, item.as_ref().map(super::KeyValue::as_ref));
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::{FRAME_PREFIX_LEN, KeyValue, WireLimits, decode_request, decode_response};

    fn decoded(frame: &[u8]) -> Response {
        let prefix: [u8; 4] = frame[..FRAME_PREFIX_LEN].try_into().unwrap();
        assert_eq!(u32::from_le_bytes(prefix) as usize, frame.len() - FRAME_PREFIX_LEN, "the prefix is the length");
        decode_response(&frame[FRAME_PREFIX_LEN..], &WireLimits::default()).unwrap()
    }

    /// What the fast readers say `buf` is, as a request.
    fn read_fast(buf: &[u8]) -> Option<Request> {
        if let Some((id, key)) = read_get_request(buf) {
            return Some(Request { id, body: RequestBody::Txn(vec![Op::Get { key: key.to_vec() }]) });
        }
        let (id, key, value, ttl) = read_set_request(buf)?;
        let op = Op::Set { key: key.to_vec(), value: value.to_vec(), ttl_ms: (ttl != 0).then_some(ttl) };
        Some(Request { id, body: RequestBody::Txn(vec![op]) })
    }

    #[test]
    fn every_head_is_cut() {
        fn shape<const N: usize>(head: Option<&Head<N>>) -> (Vec<usize>, usize) {
            let head = head.expect("the markers are found once each");
            (head.at.to_vec(), head.bytes.len())
        }
        let (answer, get, set) = (shape(answer_head()), shape(get_request_head()), shape(set_request_head()));
        // Fields in layout order, and the key's offset (and the value's,
        // when a value follows the key) and the key's length close the head.
        for ((at, len), closing) in [(answer, 12), (get, 8), (set, 12)] {
            assert!(at.windows(2).all(|w| w[0] < w[1]), "fields in layout order: {at:?}");
            assert!(at.last().unwrap() + 8 <= len - closing, "{at:?} of {len}");
        }
    }

    proptest! {
        /// Whatever the fast readers accept — from laid requests with bytes
        /// flipped, cut off or added, and from arbitrary bytes — the
        /// verifier accepts too and decodes to the same request: skipping
        /// it for these shapes lets nothing through that it would stop.
        #[test]
        fn what_the_fast_readers_accept_the_verifier_decodes_the_same(
            id in any::<u64>(),
            set in any::<bool>(),
            key in proptest::collection::vec(any::<u8>(), 0..20),
            value in proptest::collection::vec(any::<u8>(), 0..40),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in 0usize..8,
            extra in proptest::collection::vec(any::<u8>(), 0..6),
            noise in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let op = if set { Op::Set { key, value, ttl_ms: None } } else { Op::Get { key } };
            let mut out = Vec::new();
            let request = Request { id, body: RequestBody::Txn(vec![op]) };
            prop_assert!(try_request_frame(&mut out, &request));
            let mut buf = out.split_off(FRAME_PREFIX_LEN);
            for (at, byte) in &flips {
                let i = at.index(buf.len());
                buf[i] ^= byte;
            }
            buf.truncate(buf.len().saturating_sub(cut));
            buf.extend_from_slice(&extra);
            for candidate in [&buf, &noise] {
                if let Some(fast) = read_fast(candidate) {
                    prop_assert_eq!(decode_request(candidate, &WireLimits::default()), Ok(fast));
                }
            }
        }

        /// Laid GET and SET requests decode (through the verifier) to the
        /// request they were laid from, and the fast readers read them
        /// back the same.
        #[test]
        fn request_frames_decode_to_their_requests(
            id in any::<u64>(),
            set in any::<bool>(),
            key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..300),
            ttl_ms in proptest::option::of(1u64..),
            before in 0usize..9,
        ) {
            let op = if set { Op::Set { key, value, ttl_ms } } else { Op::Get { key } };
            let request = Request { id, body: RequestBody::Txn(vec![op]) };
            let mut out = vec![3u8; before];
            prop_assert!(try_request_frame(&mut out, &request));
            let frame = &out[before..];
            prop_assert_eq!(u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
            prop_assert_eq!(read_fast(&frame[FRAME_PREFIX_LEN..]), Some(request.clone()));
            prop_assert_eq!(decode_request(&frame[FRAME_PREFIX_LEN..], &WireLimits::default()).unwrap(), request);
        }

        /// A laid GET frame decodes (through the verifier) to what the
        /// builder's encodes — appended after other bytes, so that its
        /// alignment is its own.
        #[test]
        fn get_frames_decode_as_the_builders_do(
            id in any::<u64>(),
            present in any::<bool>(),
            key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..300),
            version in any::<u64>(),
            expires in proptest::option::of(1u64..),
            before in 0usize..9,
        ) {
            let item = present.then_some(KeyValue { key, value, version, expires_at_unix_ms: expires });
            let mut out = vec![7u8; before];
            let expected = Response { id, body: ResponseBody::Txn(TxnResult { results: vec![OpResult::Get(item.clone())], commit_version: 0 }) };
            if id % 2 == 0 {
                get_frame(&mut out, id, item.as_ref().map(KeyValue::as_ref));
            } else {
                prop_assert!(try_frame(&mut out, &expected));
            }
            prop_assert_eq!(&out[..before], &vec![7u8; before][..]);
            prop_assert_eq!(decoded(&out[before..]), expected.clone());
            let built = expected.encode();
            prop_assert_eq!(decode_response(&built, &WireLimits::default()).unwrap(), expected);
        }

        /// An answer patched into the cut head is byte for byte the one
        /// written table by table (which is also what is written without
        /// a head).
        #[test]
        fn answers_from_the_head_are_the_tables_bytes(
            id in any::<u64>(),
            key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..300),
            version in any::<u64>(),
            expires in proptest::option::of(1u64..),
            before in 0usize..9,
        ) {
            let kv = KeyValueRef { key: &key, value: &value, version, expires_at_unix_ms: expires };
            let (mut fast, mut tables, mut headless) = (vec![5u8; before], vec![5u8; before], vec![5u8; before]);
            item_frame(&mut fast, id, kv, answer_head());
            item_frame_by_tables(&mut tables, id, kv);
            item_frame(&mut headless, id, kv, None);
            prop_assert_eq!(&fast, &tables);
            prop_assert_eq!(headless, tables);
        }

        #[test]
        fn set_frames_decode_as_the_builders_do(id in any::<u64>(), commit_version in any::<u64>(), before in 0usize..9) {
            let mut out = vec![0u8; before];
            let expected = Response { id, body: ResponseBody::Txn(TxnResult { results: vec![OpResult::Set], commit_version }) };
            prop_assert!(try_frame(&mut out, &expected));
            prop_assert_eq!(decoded(&out[before..]), expected);
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_builder() {
        let mut out = Vec::new();
        let two = Response {
            id: 1,
            body: ResponseBody::Txn(TxnResult { results: vec![OpResult::Set, OpResult::Set], commit_version: 9 }),
        };
        let pong = Response { id: 1, body: ResponseBody::Pong { payload: vec![] } };
        assert!(!try_frame(&mut out, &two));
        assert!(!try_frame(&mut out, &pong));
        let ping = Request { id: 1, body: RequestBody::Ping { payload: vec![] } };
        let del = Request { id: 1, body: RequestBody::Txn(vec![Op::Del { key: vec![1] }]) };
        assert!(!try_request_frame(&mut out, &ping));
        assert!(!try_request_frame(&mut out, &del));
        assert!(out.is_empty());
    }
}
