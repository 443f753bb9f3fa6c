//! Payloads of B+Tree and free-list pages (after the 32-byte page header
//! of `jubilant_format::page`).
//!
//! Leaf payload: `count: u16`, then `count` entries, keys strictly
//! ascending:
//!
//! | field       | size    | meaning |
//! |-------------|---------|---------|
//! | key_len     | 2       | key length (≤ 1024) |
//! | value_kind  | 1       | 0 = inline value, 1 = value-log reference |
//! | flags       | 1       | bit 0: an expiry follows |
//! | version     | 8       | LSN of the commit that wrote the entry |
//! | expires_at  | 0 or 8  | absolute expiry, ms since the Unix epoch |
//! | value_len   | 4       | inline only: value length |
//! | value_ref   | 24      | reference only: a `ValueRef` |
//! | key         | key_len | |
//! | value       | value_len | inline only |
//!
//! Branch payload: `count: u16` children (≥ 1), `child_0: u64`, then
//! `count - 1` times `sep_len: u16`, `sep`, `child_i: u64`. Child *i*
//! holds the keys in `[sep_i, sep_{i+1})`; child 0's lower bound and the
//! last child's upper bound are the branch's own bounds (its fences),
//! which come from its parent. Separators are strictly ascending.
//!
//! Free-list payload: `next: u64` (next free-list page, 0 = none),
//! `count: u32`, then `count` page ids (`u64`).
//!
//! There are no sibling pointers between leaves: pages are copied on
//! write, and a sibling pointer would force rewriting the whole level.
//! Leaves are chained through their parents (the cursor keeps the path).

use std::borrow::Cow;

use jubilant_format::{Lsn, PageId, ValueRef};

/// Longest key.
pub const KEY_MAX: usize = 1024;

const VALUE_INLINE: u8 = 0;
const VALUE_REF: u8 = 1;
const FLAG_EXPIRES: u8 = 1;
const ENTRY_FIXED: usize = 2 + 1 + 1 + 8;

/// Where an entry's value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue<'a> {
    /// In the leaf: bytes copied out of a page, or borrowed from where
    /// they already are (a checkpoint borrows them from the memtable it
    /// writes, which outlives the tree rebuild).
    Inline(Cow<'a, [u8]>),
    /// In the value log.
    Ref(ValueRef),
}

/// A leaf entry: what node building works with. Owned (`'static`) when
/// read out of a page; borrowing its key and value when built from a
/// checkpoint's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafEntry<'a> {
    /// The key.
    pub key: Cow<'a, [u8]>,
    /// The value.
    pub value: StoredValue<'a>,
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

impl LeafEntry<'_> {
    /// Bytes the entry takes in a leaf payload.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        ENTRY_FIXED
            + if self.expires_at_unix_ms.is_some() { 8 } else { 0 }
            + match &self.value {
                StoredValue::Inline(v) => 4 + v.len(),
                StoredValue::Ref(_) => 24,
            }
            + self.key.len()
    }
}

/// Bytes of the leaf payload header.
pub const LEAF_HEADER_LEN: usize = 2;
/// Bytes of the branch payload header (count and child 0).
pub const BRANCH_HEADER_LEN: usize = 2 + 8;

/// Bytes a branch child entry takes, given its separator (child 0 has
/// none).
#[must_use]
pub fn branch_entry_len(separator: Option<&[u8]>) -> usize {
    match separator {
        None => 0,
        Some(s) => 2 + s.len() + 8,
    }
}

/// Appends the payload of a leaf holding `entries` to `out`.
pub fn encode_leaf(entries: &[LeafEntry<'_>], out: &mut Vec<u8>) {
    assert!(entries.len() <= u16::MAX as usize, "leaf of {} entries", entries.len());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in entries {
        assert!(e.key.len() <= KEY_MAX, "key of {} bytes", e.key.len());
        out.extend_from_slice(&(e.key.len() as u16).to_le_bytes());
        let (kind, flags) = (
            match e.value {
                StoredValue::Inline(_) => VALUE_INLINE,
                StoredValue::Ref(_) => VALUE_REF,
            },
            if e.expires_at_unix_ms.is_some() { FLAG_EXPIRES } else { 0 },
        );
        out.push(kind);
        out.push(flags);
        out.extend_from_slice(&e.version.to_le_bytes());
        if let Some(t) = e.expires_at_unix_ms {
            out.extend_from_slice(&t.to_le_bytes());
        }
        match &e.value {
            StoredValue::Inline(v) => out.extend_from_slice(&(v.len() as u32).to_le_bytes()),
            StoredValue::Ref(r) => out.extend_from_slice(&r.encode()),
        }
        out.extend_from_slice(&e.key);
        if let StoredValue::Inline(v) = &e.value {
            out.extend_from_slice(v);
        }
    }
}

/// One child of a branch, owned: what node building works with. The
/// first child's `low_key` is the branch's lower fence and is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchEntry {
    /// Lowest key the child may hold.
    pub low_key: Vec<u8>,
    /// The child page.
    pub child: PageId,
}

/// Appends the payload of a branch with `children` (at least one) to `out`.
pub fn encode_branch(children: &[BranchEntry], out: &mut Vec<u8>) {
    assert!(!children.is_empty(), "a branch has at least one child");
    assert!(children.len() <= u16::MAX as usize, "branch of {} children", children.len());
    out.extend_from_slice(&(children.len() as u16).to_le_bytes());
    for (i, c) in children.iter().enumerate() {
        if i > 0 {
            assert!(c.low_key.len() <= KEY_MAX, "separator of {} bytes", c.low_key.len());
            out.extend_from_slice(&(c.low_key.len() as u16).to_le_bytes());
            out.extend_from_slice(&c.low_key);
        }
        out.extend_from_slice(&c.child.to_le_bytes());
    }
}

/// A little-endian reader over a payload that fails with a message
/// instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Names the field a [`Reader`] reads, for its error message only: a
/// `Copy` value formatted when an error happens, not a string built for
/// every field of every decoded page.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A field of the payload itself.
    Plain(&'static str),
    /// Field `.1` of leaf entry `.0`.
    Entry(usize, &'static str),
    /// `"{.0} {.1}{.2}"`: a numbered item, such as `separator 3 length`.
    Nth(&'static str, usize, &'static str),
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Plain(name) => f.write_str(name),
            Field::Entry(i, name) => write!(f, "entry {i} {name}"),
            Field::Nth(item, i, rest) => write!(f, "{item} {i}{rest}"),
        }
    }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: Field) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or_else(|| format!("{what}: length overflow"))?;
        let bytes = self.buf.get(self.pos..end).ok_or_else(|| {
            format!("{what} at payload offset {} runs past the payload ({} bytes)", self.pos, self.buf.len())
        })?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: Field) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: Field) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: Field) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: Field) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: Field) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
}

/// Bytes of a key tag in a decoded leaf's buffer (see [`LeafNode`]).
const TAG_LEN: usize = 8;
/// Bytes of an entry offset in a decoded leaf's buffer.
const OFFSET_LEN: usize = 4;

/// A decoded leaf: one allocation holding an index and a copy of the
/// payload, so that a lookup touches one block of memory (after the
/// node itself) instead of one per array — on a large cache each block
/// is a likely cache and TLB miss. Keys and inline values are read in
/// place, without copying.
///
/// `buf`, for `n` entries:
///
/// | bytes       | what |
/// |-------------|------|
/// | `8 n` ([`TAG_LEN`]) | each key's [`key_tag`] after the bytes every key shares (`shared`), little-endian: a binary search touches a few dense cache lines and most searches end there |
/// | `4 n` ([`OFFSET_LEN`]) | each entry's offset in the payload (u32, little-endian) |
/// | the rest    | the payload as decoded |
///
/// Invariant (established by [`LeafNode::decode`], which checks every
/// length): every offset is the start of a whole entry inside the
/// payload, entries in key order, keys strictly ascending; reads still
/// go through checked slicing and yield empty keys or `None` rather than
/// panic were it broken.
#[derive(Debug)]
pub struct LeafNode {
    buf: Box<[u8]>,
    /// Number of entries.
    n: u32,
    /// How many leading bytes every key of the leaf shares (0 when empty).
    /// Keys like `user:000123` all begin alike: their first bytes would
    /// order nothing, so the tags start after the shared bytes.
    shared: Common,
}

/// Where an entry's parts lie in a leaf payload, read from its header:
/// by [`EntryLayout::read`] at decode (every field validated, errors
/// naming the field) and by [`EntryLayout::at`] on every lookup (the same
/// offsets with plain checked loads; decode asserts in debug builds that
/// both agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntryLayout {
    key_start: usize,
    key_len: usize,
    version: u64,
    expires: Option<u64>,
    /// `Ok((start, len))` of an inline value; `Err(start)` of a
    /// reference's 24 bytes.
    value: Result<(usize, usize), usize>,
}

impl EntryLayout {
    /// The layout of the entry whose header starts at `start` of
    /// `payload`, checking that the header, key and value lie inside it.
    fn read(payload: &[u8], start: usize, i: usize) -> Result<EntryLayout, String> {
        let mut r = Reader { buf: payload, pos: start };
        let key_len = r.u16(Field::Entry(i, "key_len"))? as usize;
        if key_len > KEY_MAX {
            return Err(format!("entry {i}: key of {key_len} bytes exceeds {KEY_MAX}"));
        }
        let kind = r.u8(Field::Entry(i, "value_kind"))?;
        let flags = r.u8(Field::Entry(i, "flags"))?;
        if flags & !FLAG_EXPIRES != 0 {
            return Err(format!("entry {i}: unknown flags {flags:#04x}"));
        }
        let version = r.u64(Field::Entry(i, "version"))?;
        let expires = if flags & FLAG_EXPIRES != 0 { Some(r.u64(Field::Entry(i, "expires_at"))?) } else { None };
        let value_len = match kind {
            VALUE_INLINE => Some(r.u32(Field::Entry(i, "value_len"))? as usize),
            VALUE_REF => None,
            other => return Err(format!("entry {i}: unknown value kind {other}")),
        };
        let ref_start = r.pos;
        if value_len.is_none() {
            r.take(24, Field::Entry(i, "value_ref"))?;
        }
        let key_start = r.pos;
        r.take(key_len, Field::Entry(i, "key"))?;
        let value = match value_len {
            Some(len) => {
                let start = r.pos;
                r.take(len, Field::Entry(i, "value"))?;
                Ok((start, len))
            }
            None => Err(ref_start),
        };
        Ok(EntryLayout { key_start, key_len, version, expires, value })
    }

    /// The layout of an entry [`EntryLayout::read`] has accepted, read
    /// again on the lookup path: the same offsets, without building error
    /// messages; `None` if it does not fit (never, for a decoded leaf).
    fn at(payload: &[u8], start: usize) -> Option<EntryLayout> {
        let header = payload.get(start..)?.first_chunk::<{ ENTRY_FIXED }>()?;
        let [k0, k1, kind, flags, v @ ..] = *header;
        let key_len = usize::from(u16::from_le_bytes([k0, k1]));
        let version = u64::from_le_bytes(v);
        let mut pos = start + ENTRY_FIXED;
        let expires = if flags & FLAG_EXPIRES != 0 {
            let t = u64::from_le_bytes(*payload.get(pos..)?.first_chunk::<8>()?);
            pos += 8;
            Some(t)
        } else {
            None
        };
        let layout = if kind == VALUE_INLINE {
            let len = u32::from_le_bytes(*payload.get(pos..)?.first_chunk::<4>()?) as usize;
            let key_start = pos + 4;
            EntryLayout { key_start, key_len, version, expires, value: Ok((key_start + key_len, len)) }
        } else {
            EntryLayout { key_start: pos + 24, key_len, version, expires, value: Err(pos) }
        };
        (layout.end() <= payload.len()).then_some(layout)
    }

    /// Bytes from the header's start to the entry's end.
    fn end(&self) -> usize {
        match self.value {
            Ok((start, len)) => start + len,
            Err(_) => self.key_start + self.key_len,
        }
    }
}

/// How many leading bytes every key of a node shares, when that is enough
/// to matter, with the first 16 of them as an integer: a search compares a
/// key against them with one masked integer comparison (or, past 16 bytes,
/// against the node's first key, a cache miss into the payload), and its
/// tags start after them.
///
/// Small on purpose: it sits in the node beside the pointer to the tags,
/// which every search reads anyway.
#[derive(Debug, Clone, Copy, Default)]
struct Common {
    /// [`key_prefix16`] of the shared bytes, masked to them.
    head: u128,
    /// The shared byte count; 0 when fewer than [`Common::MIN`] are
    /// shared (the first bytes then still tell keys apart well).
    len: u16,
}

impl Common {
    /// Fewer shared bytes than this are not skipped: random keys share a
    /// byte or two within a leaf, and their first 7 bytes already order
    /// them.
    const MIN: usize = 4;

    /// What `first` and `last`, the lowest and highest keys of a sorted
    /// node, share.
    fn of(first: &[u8], last: &[u8]) -> Common {
        let len = first.iter().zip(last).take_while(|(x, y)| x == y).count();
        if len < Common::MIN {
            return Common::default();
        }
        let len = len.min(usize::from(u16::MAX));
        Common { head: key_prefix16(first) & Common::mask(len), len: len as u16 }
    }

    /// The bits of a [`key_prefix16`] that hold the first `len` bytes.
    fn mask(len: usize) -> u128 {
        u128::MAX.checked_shl(16usize.saturating_sub(len) as u32 * 8).unwrap_or(0)
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// How `key` compares with the shared bytes, `first` being the node's
    /// first key (read only for more than 16 shared bytes): `Equal`
    /// exactly when `key` begins with them; `Less` for a key that is a
    /// proper prefix of them (it sorts below every key of the node).
    fn compare<'a>(&self, key: &[u8], first: impl FnOnce() -> &'a [u8]) -> std::cmp::Ordering {
        let len = self.len();
        if len == 0 {
            return std::cmp::Ordering::Equal;
        }
        if len > 16 {
            return key.get(..len).unwrap_or(key).cmp(first().get(..len).unwrap_or_default());
        }
        // Zero padding sorts below any byte, as the shorter key does; a
        // key shorter than the shared bytes whose padded head matches them
        // is a proper prefix of them.
        match (key_prefix16(key) & Common::mask(len)).cmp(&self.head) {
            std::cmp::Ordering::Equal if key.len() < len => std::cmp::Ordering::Less,
            other => other,
        }
    }
}

/// Where `key` falls among sorted `keys` that all begin with `common`
/// (their `tags` being each key's [`key_tag`] after `common`): `Ok(i)` if
/// `keys(i) == key`, else `Err(i)`, the first key above `key`.
///
/// Keys are read (a cache miss into the payload each) only where tags tie
/// and cannot settle it: keys with more than 7 bytes after `common` that
/// agree on those 7, compared whole by a binary search of the tie. A key
/// with at most 7 bytes after `common` is found or placed by tags alone.
fn search_sorted<'a>(
    common: &Common,
    n: usize,
    tag: impl Fn(usize) -> u64,
    key: &[u8],
    keys: impl Fn(usize) -> &'a [u8],
) -> Result<usize, usize> {
    // A key not beginning with `common` is below or above all of them.
    match common.compare(key, || keys(0)) {
        std::cmp::Ordering::Less => return Err(0),
        std::cmp::Ordering::Greater => return Err(n),
        std::cmp::Ordering::Equal => {}
    }
    let probe = key_tag(key.get(common.len()..).unwrap_or_default());
    let lo = partition_point(0..n, |i| tag(i) < probe);
    if lo == n || tag(lo) != probe {
        return Err(lo);
    }
    if tag_is_whole(probe) {
        // Equal tags of short tails: equal keys (see `key_tag`).
        return Ok(lo);
    }
    // A tie of long tails: few (one for a present key) unless keys share
    // 7 bytes past `common`. Walk the first few, comparing whole keys
    // (every key of the tie begins with `common` and shares the probe's
    // tag), then binary-search a longer tie.
    const WALK: usize = 4;
    for i in lo..(lo + WALK).min(n) {
        if tag(i) != probe {
            return Err(i);
        }
        match keys(i).cmp(key) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Ok(i),
            std::cmp::Ordering::Greater => return Err(i),
        }
    }
    let start = (lo + WALK).min(n);
    let mut range = start..partition_point(start..n, |i| tag(i) == probe);
    while range.start < range.end {
        let mid = range.start + (range.end - range.start) / 2;
        match keys(mid).cmp(key) {
            std::cmp::Ordering::Less => range.start = mid + 1,
            std::cmp::Ordering::Equal => return Ok(mid),
            std::cmp::Ordering::Greater => range.end = mid,
        }
    }
    Err(range.start)
}

/// The first index of `range` where `below` turns false (`below` being
/// true for a prefix of the range, false after), by binary search.
fn partition_point(range: std::ops::Range<usize>, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (range.start, range.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A key tail's search tag: its first 7 bytes, zero-padded, as a
/// big-endian integer in the high 56 bits, and in the low byte its length
/// if at most 7, else 8.
///
/// Ordering by tag agrees with ordering by tail wherever two tags differ:
/// the high bytes as for [`key_prefix`]; with those equal, a tail of
/// length ≤ 7 is a prefix of any longer one, and its smaller length byte
/// sorts it first. Two equal tags whose length byte is at most 7
/// ([`tag_is_whole`]) are two equal tails, so a search settles them
/// without reading either key.
#[must_use]
pub fn key_tag(tail: &[u8]) -> u64 {
    let head = key_prefix(tail) & !0xff;
    head | tail.len().min(8) as u64
}

/// Whether a [`key_tag`] holds its whole tail.
#[must_use]
pub fn tag_is_whole(tag: u64) -> bool {
    tag & 0xff <= 7
}

/// A borrowed view of one leaf entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: ValueView<'a>,
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Absolute expiry in ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
}

/// A borrowed view of a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueView<'a> {
    /// Inline bytes.
    Inline(&'a [u8]),
    /// A value-log reference.
    Ref(ValueRef),
}

impl<'a> EntryRef<'a> {
    /// A leaf entry borrowing this one's key and inline value.
    #[must_use]
    pub fn borrowed(&self) -> LeafEntry<'a> {
        LeafEntry {
            key: Cow::Borrowed(self.key),
            value: match self.value {
                ValueView::Inline(v) => StoredValue::Inline(Cow::Borrowed(v)),
                ValueView::Ref(r) => StoredValue::Ref(r),
            },
            version: self.version,
            expires_at_unix_ms: self.expires_at_unix_ms,
        }
    }

    /// An owned copy.
    #[must_use]
    pub fn to_owned(&self) -> LeafEntry<'static> {
        LeafEntry {
            key: Cow::Owned(self.key.to_vec()),
            value: match self.value {
                ValueView::Inline(v) => StoredValue::Inline(Cow::Owned(v.to_vec())),
                ValueView::Ref(r) => StoredValue::Ref(r),
            },
            version: self.version,
            expires_at_unix_ms: self.expires_at_unix_ms,
        }
    }
}

impl LeafNode {
    /// Decodes a leaf payload, checking every length and that keys are
    /// strictly ascending.
    pub fn decode(payload: &[u8]) -> Result<LeafNode, String> {
        let mut r = Reader { buf: payload, pos: 0 };
        let count = r.u16(Field::Plain("entry count"))? as usize;
        // Each entry's header offset and key range.
        let mut found: Vec<(u32, std::ops::Range<usize>)> = Vec::with_capacity(count);
        let mut pos = LEAF_HEADER_LEN;
        for i in 0..count {
            let layout = EntryLayout::read(payload, pos, i)?;
            debug_assert_eq!(EntryLayout::at(payload, pos), Some(layout), "entry {i}: the two header readers disagree");
            if let Err(at) = layout.value {
                ValueRef::decode(payload.get(at..).unwrap_or_default(), 0).map_err(|e| format!("entry {i}: {e}"))?;
            }
            // A payload is at most a page, far below 4 GiB.
            let start = u32::try_from(pos).map_err(|_| format!("entry {i} at offset {pos}: payload too large"))?;
            found.push((start, layout.key_start..layout.key_start + layout.key_len));
            pos = layout.end();
        }
        if pos != payload.len() {
            return Err(format!("{} bytes after the last entry", payload.len() - pos));
        }
        let key = |i: usize| found.get(i).and_then(|(_, k)| payload.get(k.clone())).unwrap_or_default();
        for i in 1..count {
            if key(i - 1) >= key(i) {
                return Err(format!("keys of entries {} and {i} are not strictly ascending", i - 1));
            }
        }
        // Keys are sorted, so what the first and the last share, all share.
        let shared = Common::of(key(0), key(count.saturating_sub(1)));
        let skip = shared.len();
        let mut buf = Vec::with_capacity((TAG_LEN + OFFSET_LEN) * count + payload.len());
        for i in 0..count {
            buf.extend_from_slice(&key_tag(key(i).get(skip..).unwrap_or_default()).to_le_bytes());
        }
        for (start, _) in &found {
            buf.extend_from_slice(&start.to_le_bytes());
        }
        buf.extend_from_slice(payload);
        Ok(LeafNode { buf: buf.into_boxed_slice(), n: count as u32, shared })
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether the leaf has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The payload as decoded.
    fn payload(&self) -> &[u8] {
        self.buf.get((TAG_LEN + OFFSET_LEN) * self.len()..).unwrap_or_default()
    }

    /// Tag `i` (see the layout table), for `i < len` (searches ask for
    /// no other); `u64::MAX` past the buffer.
    fn tag(&self, i: usize) -> u64 {
        self.buf
            .get(TAG_LEN * i..)
            .and_then(|b| b.first_chunk::<TAG_LEN>())
            .map_or(u64::MAX, |b| u64::from_le_bytes(*b))
    }

    /// The layout of entry `i`, read from its header.
    fn layout(&self, i: usize) -> Option<EntryLayout> {
        if i >= self.len() {
            return None;
        }
        let at = TAG_LEN * self.len() + OFFSET_LEN * i;
        let start = self.buf.get(at..).and_then(|b| b.first_chunk::<OFFSET_LEN>()).map(|b| u32::from_le_bytes(*b))?;
        // Validated by `decode`; bounds are still checked, not trusted.
        EntryLayout::at(self.payload(), start as usize)
    }

    /// The key of entry `i` (empty if out of range).
    #[must_use]
    pub fn key(&self, i: usize) -> &[u8] {
        self.layout(i).and_then(|l| self.payload().get(l.key_start..l.key_start + l.key_len)).unwrap_or_default()
    }

    /// Entry `i`.
    #[must_use]
    pub fn entry(&self, i: usize) -> Option<EntryRef<'_>> {
        let l = self.layout(i)?;
        let payload = self.payload();
        let value = match l.value {
            Ok((start, len)) => ValueView::Inline(payload.get(start..start + len)?),
            Err(start) => ValueView::Ref(ValueRef::decode(payload.get(start..)?, 0).ok()?),
        };
        Some(EntryRef {
            key: payload.get(l.key_start..l.key_start + l.key_len)?,
            value,
            version: Lsn(l.version),
            expires_at_unix_ms: l.expires,
        })
    }

    /// Binary search: `Ok(i)` if entry `i` has `key`, else `Err(i)` where
    /// it would be inserted.
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.warm_index();
        search_sorted(&self.shared, self.len(), |i| self.tag(i), key, |i| self.key(i))
    }

    /// Reads a byte of every cache line of the tags and offsets, each read
    /// independent of the others so that their misses overlap; the search
    /// that follows then finds them cached. (A binary search's reads each
    /// wait for the one before: on a leaf out of cache, as a served GET
    /// finds it after the network stack has run, that was a miss per step.)
    fn warm_index(&self) {
        let index = self.buf.get(..(TAG_LEN + OFFSET_LEN) * self.len()).unwrap_or_default();
        std::hint::black_box(index.iter().step_by(64).fold(0u8, |acc, &b| acc ^ b));
    }

    /// All entries, borrowing their keys and inline values from this node.
    #[must_use]
    pub fn entries(&self) -> Vec<LeafEntry<'_>> {
        let mut out = Vec::with_capacity(self.len());
        out.extend((0..self.len()).filter_map(|i| self.entry(i)).map(|e| e.borrowed()));
        out
    }

    /// All entries, owned.
    #[must_use]
    pub fn to_entries(&self) -> Vec<LeafEntry<'static>> {
        // Sized up front: `filter_map` gives `collect` no lower bound.
        let mut out = Vec::with_capacity(self.len());
        out.extend((0..self.len()).filter_map(|i| self.entry(i)).map(|e| e.to_owned()));
        out
    }

    /// The payload's length.
    #[must_use]
    pub fn payload_len(&self) -> usize {
        self.payload().len()
    }

    /// Value-log segments referenced, for the validator and GC.
    pub fn value_refs(&self) -> impl Iterator<Item = ValueRef> + '_ {
        (0..self.len()).filter_map(|i| match self.entry(i)?.value {
            ValueView::Ref(r) => Some(r),
            ValueView::Inline(_) => None,
        })
    }
}

/// The first 8 bytes of `key` as a big-endian integer, zero-padded.
/// Ordering by it agrees with ordering by key wherever two prefixes
/// differ: a shorter key's padding zero sorts below any byte, as the
/// shorter key itself does.
#[must_use]
pub fn key_prefix(key: &[u8]) -> u64 {
    // Big-endian, so that integer order is byte order. The common case
    // is one unaligned load, not a variable-length copy.
    if let Some(head) = key.first_chunk::<8>() {
        return u64::from_le_bytes(*head).swap_bytes();
    }
    let mut buf = [0u8; 8];
    for (dst, src) in buf.iter_mut().zip(key) {
        *dst = *src;
    }
    u64::from_le_bytes(buf).swap_bytes()
}

/// The first 16 bytes of `key` as a big-endian integer, zero-padded: as
/// [`key_prefix`], ordering by it agrees with ordering by key wherever two
/// prefixes differ.
#[must_use]
pub fn key_prefix16(key: &[u8]) -> u128 {
    if let Some(head) = key.first_chunk::<16>() {
        return u128::from_le_bytes(*head).swap_bytes();
    }
    (u128::from(key_prefix(key)) << 64) | u128::from(key_prefix(key.get(8..).unwrap_or_default()))
}

/// A decoded branch.
#[derive(Debug)]
pub struct BranchNode {
    payload: Box<[u8]>,
    children: Box<[PageId]>,
    /// `(start, len)` in the payload of the separator before child i + 1.
    separators: Box<[(u32, u16)]>,
    /// Each separator's [`key_tag`] after the bytes all separators share
    /// (`shared`), as in [`LeafNode`].
    tags: Box<[u64]>,
    /// How many leading bytes every separator shares (0 with none).
    shared: Common,
}

impl BranchNode {
    /// Decodes a branch payload, checking lengths and separator order.
    pub fn decode(payload: &[u8]) -> Result<BranchNode, String> {
        let mut r = Reader { buf: payload, pos: 0 };
        let count = r.u16(Field::Plain("child count"))? as usize;
        if count == 0 {
            return Err("branch with no children".into());
        }
        let mut children = Vec::with_capacity(count);
        let mut separators = Vec::with_capacity(count - 1);
        children.push(PageId(r.u64(Field::Plain("child 0"))?));
        for i in 1..count {
            let len = r.u16(Field::Nth("separator", i, " length"))?;
            if len as usize > KEY_MAX {
                return Err(format!("separator {i} of {len} bytes exceeds {KEY_MAX}"));
            }
            let start = r.pos as u32;
            r.take(len as usize, Field::Nth("separator", i, ""))?;
            separators.push((start, len));
            children.push(PageId(r.u64(Field::Nth("child", i, ""))?));
        }
        if r.pos != payload.len() {
            return Err(format!("{} bytes after the last child", payload.len() - r.pos));
        }
        let mut node = BranchNode {
            payload: payload.into(),
            children: children.into_boxed_slice(),
            separators: separators.into_boxed_slice(),
            tags: Box::default(),
            shared: Common::default(),
        };
        // Separators are sorted (checked below), so what the first and the
        // last share, all share.
        node.shared = Common::of(node.separator(0), node.separator(node.separators.len().saturating_sub(1)));
        let skip = node.shared.len();
        node.tags =
            (0..node.separators.len()).map(|i| key_tag(node.separator(i).get(skip..).unwrap_or_default())).collect();
        for i in 1..node.separators.len() {
            if node.separator(i - 1) >= node.separator(i) {
                return Err(format!("separators {} and {} are not strictly ascending", i - 1, i));
            }
        }
        Ok(node)
    }

    /// Number of children.
    #[must_use]
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Never true: a branch has at least one child.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Child `i`.
    #[must_use]
    pub fn child(&self, i: usize) -> Option<PageId> {
        self.children.get(i).copied()
    }

    /// All children.
    #[must_use]
    pub fn children(&self) -> &[PageId] {
        &self.children
    }

    /// Separator `i`: the lowest key of child `i + 1`.
    #[must_use]
    pub fn separator(&self, i: usize) -> &[u8] {
        self.separators
            .get(i)
            .and_then(|&(s, l)| self.payload.get(s as usize..s as usize + l as usize))
            .unwrap_or_default()
    }

    /// The child whose range holds `key`.
    #[must_use]
    pub fn child_index(&self, key: &[u8]) -> usize {
        // The number of separators <= key.
        match search_sorted(
            &self.shared,
            self.tags.len(),
            |i| self.tags.get(i).copied().unwrap_or(u64::MAX),
            key,
            |i| self.separator(i),
        ) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The children as owned entries; child 0 gets `low_fence` as its key.
    #[must_use]
    pub fn to_entries(&self, low_fence: &[u8]) -> Vec<BranchEntry> {
        self.children
            .iter()
            .enumerate()
            .map(|(i, &child)| BranchEntry {
                low_key: if i == 0 { low_fence.to_vec() } else { self.separator(i - 1).to_vec() },
                child,
            })
            .collect()
    }

    /// The payload's length.
    #[must_use]
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }
}

/// A decoded tree page.
#[derive(Debug)]
pub enum Node {
    /// A leaf.
    Leaf(LeafNode),
    /// A branch.
    Branch(BranchNode),
}

impl Node {
    /// Approximate memory the node takes, for the cache budget.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        match self {
            Node::Leaf(l) => l.buf.len() + std::mem::size_of::<Node>() + 16,
            Node::Branch(b) => b.payload.len() + b.children.len() * 16 + 64,
        }
    }
}

/// A decoded free-list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeListPage {
    /// The next free-list page.
    pub next: Option<PageId>,
    /// Free page ids held by this page.
    pub pages: Vec<PageId>,
}

/// Bytes of the free-list payload header.
pub const FREE_LIST_HEADER_LEN: usize = 8 + 4;

impl FreeListPage {
    /// How many ids fit in one page with this payload capacity.
    #[must_use]
    pub fn capacity(payload_max: usize) -> usize {
        (payload_max - FREE_LIST_HEADER_LEN) / 8
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.next.map_or(0, PageId::get).to_le_bytes());
        out.extend_from_slice(&(self.pages.len() as u32).to_le_bytes());
        for p in &self.pages {
            out.extend_from_slice(&p.to_le_bytes());
        }
    }

    /// Decodes a payload.
    pub fn decode(payload: &[u8]) -> Result<FreeListPage, String> {
        let mut r = Reader { buf: payload, pos: 0 };
        let next = r.u64(Field::Plain("next"))?;
        let count = r.u32(Field::Plain("count"))? as usize;
        if count > payload.len() / 8 {
            return Err(format!("count {count} exceeds what the payload holds"));
        }
        let mut pages = Vec::with_capacity(count);
        for i in 0..count {
            pages.push(PageId(r.u64(Field::Nth("page id", i, ""))?));
        }
        if r.pos != payload.len() {
            return Err(format!("{} bytes after the last page id", payload.len() - r.pos));
        }
        Ok(FreeListPage { next: (next != 0).then_some(PageId(next)), pages })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jubilant_format::SegmentId;

    fn example_value_ref() -> ValueRef {
        ValueRef { segment: SegmentId(1), offset: 40, length: 64, crc: 0 }
    }

    fn entry(key: &[u8], value: &[u8], version: u64, expires: Option<u64>) -> LeafEntry<'static> {
        LeafEntry {
            key: key.to_vec().into(),
            value: StoredValue::Inline(value.to_vec().into()),
            version: Lsn(version),
            expires_at_unix_ms: expires,
        }
    }

    #[test]
    fn leaf_roundtrip_and_search() {
        let entries = vec![
            entry(b"a", b"1", 5, None),
            entry(b"b", b"", 6, Some(99)),
            LeafEntry {
                key: b"c".to_vec().into(),
                value: StoredValue::Ref(example_value_ref()),
                version: Lsn(7),
                expires_at_unix_ms: None,
            },
        ];
        let mut payload = Vec::new();
        encode_leaf(&entries, &mut payload);
        assert_eq!(payload.len(), LEAF_HEADER_LEN + entries.iter().map(LeafEntry::encoded_len).sum::<usize>());
        let leaf = LeafNode::decode(&payload).unwrap();
        assert_eq!(leaf.to_entries(), entries);
        assert_eq!(leaf.search(b"b"), Ok(1));
        assert_eq!(leaf.search(b"bb"), Err(2));
        assert_eq!(leaf.search(b""), Err(0));
    }

    proptest::proptest! {
        /// Every entry shape (inline or reference, with or without an
        /// expiry, empty keys and values) comes back as encoded, read in
        /// place from the one buffer.
        #[test]
        fn leaf_entries_roundtrip(
            shapes in proptest::collection::btree_map(
                proptest::collection::vec(proptest::num::u8::ANY, 0..20),
                (proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..40)), proptest::option::of(0u64..u64::MAX), 0u64..1 << 40),
                0..40,
            ),
        ) {
            let entries: Vec<LeafEntry> = shapes
                .into_iter()
                .map(|(key, (value, expires, version))| LeafEntry {
                    key: key.into(),
                    value: value.map_or(StoredValue::Ref(example_value_ref()), |v| StoredValue::Inline(v.into())),
                    version: Lsn(version),
                    expires_at_unix_ms: expires,
                })
                .collect();
            let mut payload = Vec::new();
            encode_leaf(&entries, &mut payload);
            let leaf = LeafNode::decode(&payload).unwrap();
            proptest::prop_assert_eq!(leaf.to_entries(), entries.clone());
            for (i, e) in entries.iter().enumerate() {
                proptest::prop_assert_eq!(leaf.key(i), &e.key[..]);
                proptest::prop_assert_eq!(leaf.search(&e.key), Ok(i));
            }
            proptest::prop_assert_eq!(leaf.entry(entries.len()), None);
            proptest::prop_assert_eq!(leaf.key(entries.len()), b"");
        }
    }

    proptest::proptest! {
        /// Damaged payloads (random bytes, or a valid leaf or branch with
        /// bytes overwritten or cut short) never panic a decoder, and
        /// whatever decodes answers every accessor without panicking.
        #[test]
        fn decoders_take_any_bytes(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..6),
            cut in proptest::num::usize::ANY,
            probe in proptest::collection::vec(proptest::num::u8::ANY, 0..12),
        ) {
            let entries = vec![
                entry(b"abcd0001", b"v1", 1, None),
                entry(b"abcd0002", b"", 2, Some(7)),
                LeafEntry { key: b"abcd0003".to_vec().into(), value: StoredValue::Ref(example_value_ref()), version: Lsn(3), expires_at_unix_ms: Some(9) },
            ];
            let mut leaf_payload = Vec::new();
            encode_leaf(&entries, &mut leaf_payload);
            let children = vec![
                BranchEntry { low_key: Vec::new(), child: PageId(2) },
                BranchEntry { low_key: b"abcd0002".to_vec(), child: PageId(3) },
                BranchEntry { low_key: b"abcd0003".to_vec(), child: PageId(4) },
            ];
            let mut branch_payload = Vec::new();
            encode_branch(&children, &mut branch_payload);
            proptest::prop_assert!(LeafNode::decode(&leaf_payload).is_ok());
            proptest::prop_assert!(BranchNode::decode(&branch_payload).is_ok());
            for base in [raw, leaf_payload, branch_payload] {
                let mut bytes = base;
                for &(at, byte) in &edits {
                    if !bytes.is_empty() {
                        let i = at % bytes.len();
                        bytes[i] = byte;
                    }
                }
                bytes.truncate(cut % (bytes.len() + 1));
                // What decodes keeps the decoders' promises: every entry
                // readable, keys strictly ascending, searches agreeing with
                // the keys' order.
                if let Ok(leaf) = LeafNode::decode(&bytes) {
                    let keys: Vec<Vec<u8>> = leaf.to_entries().into_iter().map(|e| e.key.into_owned()).collect();
                    proptest::prop_assert_eq!(keys.len(), leaf.len());
                    proptest::prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
                    proptest::prop_assert_eq!(leaf.search(&probe), keys.binary_search(&probe));
                    proptest::prop_assert!(leaf.value_refs().count() <= leaf.len());
                    proptest::prop_assert_eq!(leaf.entry(leaf.len()), None);
                }
                if let Ok(branch) = BranchNode::decode(&bytes) {
                    let seps: Vec<&[u8]> = (0..branch.len().saturating_sub(1)).map(|i| branch.separator(i)).collect();
                    proptest::prop_assert!(seps.windows(2).all(|w| w[0] < w[1]));
                    let expected = seps.iter().filter(|s| **s <= probe.as_slice()).count();
                    proptest::prop_assert_eq!(branch.child_index(&probe), expected);
                    proptest::prop_assert_eq!(branch.to_entries(b"").len(), branch.len());
                    proptest::prop_assert_eq!(branch.child(branch.len()), None);
                }
            }
        }
    }

    /// Searches of leaves and branches whose keys share exactly 16 bytes
    /// (the last compared as an integer) and 17 (compared against the first
    /// key), and of more than the walked few keys whose tails agree on
    /// their 7 tagged bytes (the binary search of a tie): each probe lands
    /// where a binary search of the keys puts it.
    #[test]
    fn searches_at_the_shared_and_tag_boundaries() {
        let with_shared = |shared: usize, tails: &[&[u8]]| -> Vec<Vec<u8>> {
            let head: Vec<u8> = (0..shared).map(|i| if i % 3 == 0 { 0 } else { b'k' }).collect();
            tails.iter().map(|t| [head.as_slice(), t].concat()).collect()
        };
        let long_ties: Vec<&[u8]> = vec![
            b"\x00",
            b"\x01\0\0\0\0\0\0\0a",
            b"\x01\0\0\0\0\0\0\0b",
            b"\x01\0\0\0\0\0\0\0c",
            b"\x01\0\0\0\0\0\0\0d",
            b"\x01\0\0\0\0\0\0\0e",
            b"\x01\0\0\0\0\0\0\0f",
            b"\x01\0\0\0\0\0\0\0g",
            b"\x02",
        ];
        let cases = [
            with_shared(16, &[b"\x01", b"\x02\0", b"\x03\0\0\0\0\0\0", b"\x03\0\0\0\0\0\0\0"]),
            with_shared(17, &[b"\x01", b"\x02\0", b"\x03\0\0\0\0\0\0", b"\x03\0\0\0\0\0\0\0"]),
            with_shared(4, &long_ties),
            with_shared(0, &long_ties),
        ];
        for mut keys in cases {
            keys.sort();
            keys.dedup();
            let entries: Vec<LeafEntry> = keys.iter().map(|k| entry(k, b"v", 1, None)).collect();
            let mut payload = Vec::new();
            encode_leaf(&entries, &mut payload);
            let leaf = LeafNode::decode(&payload).unwrap();
            let mut children = vec![BranchEntry { low_key: Vec::new(), child: PageId(1) }];
            children.extend(keys.iter().zip(2..).map(|(k, c)| BranchEntry { low_key: k.clone(), child: PageId(c) }));
            let mut payload = Vec::new();
            encode_branch(&children, &mut payload);
            let branch = BranchNode::decode(&payload).unwrap();
            // Every key, every proper prefix of one, and each with a zero
            // byte or a 0xff byte appended.
            let mut probes: Vec<Vec<u8>> = Vec::new();
            for k in &keys {
                probes.extend((0..=k.len()).map(|n| k[..n].to_vec()));
                probes.push([k.as_slice(), &[0]].concat());
                probes.push([k.as_slice(), &[0xff]].concat());
            }
            for probe in &probes {
                assert_eq!(leaf.search(probe), keys.binary_search(probe), "leaf, probe {probe:?}");
                let expected = keys.iter().filter(|k| k.as_slice() <= probe.as_slice()).count();
                assert_eq!(branch.child_index(probe), expected, "branch, probe {probe:?}");
            }
        }
    }

    #[test]
    fn leaf_decode_rejects_bad_payloads() {
        let mut payload = Vec::new();
        encode_leaf(&[entry(b"b", b"1", 1, None), entry(b"a", b"2", 1, None)], &mut payload);
        assert!(LeafNode::decode(&payload).unwrap_err().contains("ascending"));
        let mut payload = Vec::new();
        encode_leaf(&[entry(b"a", b"1", 1, None)], &mut payload);
        for cut in 0..payload.len() {
            assert!(LeafNode::decode(&payload[..cut]).is_err());
        }
        payload.push(0);
        assert!(LeafNode::decode(&payload).is_err());

        // Each header field decode validates, named in the error: the
        // payload is `count`, then key_len (2), value_kind, flags, ...
        let mut payload = Vec::new();
        encode_leaf(&[entry(b"a", b"1", 1, None)], &mut payload);
        let mut bad_kind = payload.clone();
        bad_kind[4] = 7;
        assert!(LeafNode::decode(&bad_kind).unwrap_err().contains("unknown value kind 7"));
        let mut bad_flags = payload.clone();
        bad_flags[5] = 0x80;
        assert!(LeafNode::decode(&bad_flags).unwrap_err().contains("unknown flags"));
        let mut long_key = payload.clone();
        long_key[2..4].copy_from_slice(&(KEY_MAX as u16 + 1).to_le_bytes());
        assert!(LeafNode::decode(&long_key).unwrap_err().contains("exceeds"));
        // A value reference too short to hold its record header.
        let short_ref = ValueRef { length: 3, ..example_value_ref() };
        let mut payload = Vec::new();
        encode_leaf(
            &[LeafEntry {
                key: b"r".to_vec().into(),
                value: StoredValue::Ref(short_ref),
                version: Lsn(1),
                expires_at_unix_ms: None,
            }],
            &mut payload,
        );
        let err = LeafNode::decode(&payload).unwrap_err();
        assert!(err.starts_with("entry 0:") && err.contains("length"), "{err}");
    }

    #[test]
    fn branch_roundtrip_and_child_index() {
        let children = vec![
            BranchEntry { low_key: b"".to_vec(), child: PageId(2) },
            BranchEntry { low_key: b"g".to_vec(), child: PageId(3) },
            BranchEntry { low_key: b"p".to_vec(), child: PageId(4) },
        ];
        let mut payload = Vec::new();
        encode_branch(&children, &mut payload);
        let branch = BranchNode::decode(&payload).unwrap();
        assert_eq!(branch.to_entries(b""), children);
        assert_eq!(branch.child_index(b"a"), 0);
        assert_eq!(branch.child_index(b"g"), 1);
        assert_eq!(branch.child_index(b"o"), 1);
        assert_eq!(branch.child_index(b"p"), 2);
        assert_eq!(branch.child_index(b"zzz"), 2);
    }

    /// Keys drawn from a few shapes that share long prefixes (and are
    /// prefixes of each other), so searches hit every path: below, above
    /// and inside the shared bytes (up to and past 16), ties of the tags.
    fn shaped_key() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            (0u32..40).prop_map(|n| format!("user:0000000{n:03}").into_bytes()),
            (0u32..40).prop_map(|n| format!("user:0000000{n:03}:x").into_bytes()),
            (0u32..10).prop_map(|n| format!("user:{n}").into_bytes()),
            // Sharing more than 16 bytes (compared against the first key).
            (0u32..40).prop_map(|n| format!("tenant-{:040}:{n:03}", 7).into_bytes()),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(b'u'), Just(0xff)], 0..12),
            // Sharing 4 to 16+ bytes ending in zeros, with tails of 0 to 10
            // bytes around the tag's 7: proper prefixes of the shared bytes,
            // tails that are prefixes of each other.
            (0usize..14, proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xff)], 0..10)).prop_map(
                |(zeros, tail)| {
                    let mut key = b"abcd".to_vec();
                    key.extend(std::iter::repeat_n(0u8, zeros));
                    key.extend(tail);
                    key
                }
            ),
        ]
    }

    proptest::proptest! {
        /// Tags order as their tails wherever they differ, and equal whole
        /// tags are equal tails.
        #[test]
        fn key_tags_order_as_tails(
            a in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), 1u8..3, proptest::strategy::Just(0xff)], 0..12),
            b in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), 1u8..3, proptest::strategy::Just(0xff)], 0..12),
        ) {
            let (ta, tb) = (key_tag(&a), key_tag(&b));
            if ta != tb {
                proptest::prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
            } else if tag_is_whole(ta) {
                proptest::prop_assert_eq!(&a, &b);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn searches_agree_with_sorted_order(
            keys in proptest::collection::btree_set(shaped_key(), 0..60),
            probes in proptest::collection::vec(shaped_key(), 1..40),
        ) {
            let keys: Vec<Vec<u8>> = keys.into_iter().collect();
            let entries: Vec<LeafEntry> = keys.iter().map(|k| entry(k, b"v", 1, None)).collect();
            let mut payload = Vec::new();
            encode_leaf(&entries, &mut payload);
            let leaf = LeafNode::decode(&payload).unwrap();
            for probe in probes.iter().chain(&keys) {
                proptest::prop_assert_eq!(leaf.search(probe), keys.binary_search(probe));
            }
            if let Some((first, rest)) = keys.split_first() {
                let mut children = vec![BranchEntry { low_key: first.clone(), child: PageId(1) }];
                children.extend(rest.iter().zip(2..).map(|(k, c)| BranchEntry { low_key: k.clone(), child: PageId(c) }));
                let mut payload = Vec::new();
                encode_branch(&children, &mut payload);
                let branch = BranchNode::decode(&payload).unwrap();
                for probe in probes.iter().chain(&keys) {
                    // Separators are keys 1..: the children whose low key is <= probe, minus child 0.
                    let expected = rest.iter().filter(|k| k.as_slice() <= probe.as_slice()).count();
                    proptest::prop_assert_eq!(branch.child_index(probe), expected);
                }
            }
        }
    }

    #[test]
    fn free_list_roundtrip() {
        let page = FreeListPage { next: Some(PageId(9)), pages: vec![PageId(3), PageId(4)] };
        let mut payload = Vec::new();
        page.encode(&mut payload);
        assert_eq!(FreeListPage::decode(&payload).unwrap(), page);
        assert!(FreeListPage::decode(&payload[..payload.len() - 1]).is_err());
    }
}
