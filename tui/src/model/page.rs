//! One page decoded for display, and page classification for the map.
//!
//! Header fields are read through the format's published layouts
//! (`page::LAYOUT`, `superblock::LAYOUT`), so every field is shown with the
//! byte offset the specification gives it. Payloads are decoded by the
//! engine's own node decoders; the byte spans of their entries follow the
//! field sequence of docs/TECH_SPECIFICATION.md §7a.
//!
//! A page whose header fails (a checksum mismatch, a misdirected write) is
//! still decoded when its magic, type and payload length are plausible:
//! the view says the entries are untrusted, and why.

use jubilant_engine::btree::node::{BranchNode, FreeListPage, LeafNode, ValueView};
use jubilant_format::layout::Layout;
use jubilant_format::page::{PAGE_HEADER_LEN, PAGE_MAGIC, page_crc, stored_crc};
use jubilant_format::superblock::{SUPERBLOCK_LEN, SUPERBLOCK_MAGIC};
use jubilant_format::{Error, Lsn, PageHeader, PageId, PageSize, PageType, Slot, Superblock, ValueRef};

/// What a page is, as the page map colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageClass {
    /// Not read yet (the background scan has not reached it).
    Unscanned,
    /// Page 0 or 1: a superblock slot.
    Superblock,
    /// A valid branch page.
    Branch,
    /// A valid leaf page.
    Leaf,
    /// A valid overflow page.
    Overflow,
    /// A valid free-list page.
    FreeList,
    /// All zero: never written.
    Zeroed,
    /// Fails to decode (header or payload).
    Corrupt,
}

impl PageClass {
    /// Short name, as in the legend.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            PageClass::Unscanned => "not scanned",
            PageClass::Superblock => "superblock",
            PageClass::Branch => "branch",
            PageClass::Leaf => "leaf",
            PageClass::Overflow => "overflow",
            PageClass::FreeList => "free-list",
            PageClass::Zeroed => "zeroed",
            PageClass::Corrupt => "corrupt",
        }
    }
}

/// Classifies tree page `page` (id ≥ 2) from its bytes; a corrupt page
/// comes with the decoder's error.
#[must_use]
pub fn classify(page: PageId, bytes: &[u8], page_size: PageSize) -> (PageClass, Option<String>) {
    match PageHeader::open(bytes, page, page_size) {
        Ok(header) => {
            let payload = header.payload(bytes);
            let decoded = match header.page_type {
                PageType::Leaf => LeafNode::decode(payload).map(|_| PageClass::Leaf),
                PageType::Branch => BranchNode::decode(payload).map(|_| PageClass::Branch),
                PageType::FreeList => FreeListPage::decode(payload).map(|_| PageClass::FreeList),
                PageType::Overflow => Ok(PageClass::Overflow),
            };
            match decoded {
                Ok(class) => (class, None),
                Err(reason) => (PageClass::Corrupt, Some(format!("{} payload: {reason}", header.page_type.name()))),
            }
        }
        Err(Error::Zeroed { .. }) => (PageClass::Zeroed, None),
        Err(e) => (PageClass::Corrupt, Some(e.to_string())),
    }
}

/// What a byte of a page is, for hex highlighting and the byte map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Page header (or superblock) fields.
    Header,
    /// The CRC field.
    Crc,
    /// A payload's count or list header.
    Count,
    /// An entry's fixed fields (lengths, kind, flags, version, expiry).
    EntryMeta,
    /// Key or separator bytes.
    Key,
    /// Inline value bytes.
    Value,
    /// A value-log reference.
    ValueRef,
    /// A child or page-id pointer.
    Pointer,
    /// A payload that could not be decoded.
    Undecoded,
    /// After the payload: free space.
    Free,
}

impl ByteKind {
    /// One character for the byte map.
    #[must_use]
    pub const fn symbol(self) -> char {
        match self {
            ByteKind::Header => 'H',
            ByteKind::Crc => 'C',
            ByteKind::Count => 'n',
            ByteKind::EntryMeta => 'e',
            ByteKind::Key => 'k',
            ByteKind::Value => 'v',
            ByteKind::ValueRef => 'r',
            ByteKind::Pointer => 'p',
            ByteKind::Undecoded => '?',
            ByteKind::Free => '·',
        }
    }

    /// Legend text.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ByteKind::Header => "header",
            ByteKind::Crc => "CRC",
            ByteKind::Count => "count",
            ByteKind::EntryMeta => "entry fields",
            ByteKind::Key => "key/separator",
            ByteKind::Value => "inline value",
            ByteKind::ValueRef => "value ref",
            ByteKind::Pointer => "page pointer",
            ByteKind::Undecoded => "undecoded",
            ByteKind::Free => "free space",
        }
    }
}

/// A run of bytes of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSpan {
    /// First byte (page offset).
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What the bytes are.
    pub kind: ByteKind,
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRow {
    /// Byte offset in the page.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Name, as in the specification.
    pub name: &'static str,
    /// The raw bytes, hex.
    pub raw: String,
    /// The value, decoded.
    pub value: String,
    /// Whether this field is what makes the structure invalid.
    pub bad: bool,
}

/// A leaf entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryView {
    /// Page offset of the entry.
    pub offset: usize,
    /// Bytes it takes.
    pub len: usize,
    /// The key.
    pub key: Vec<u8>,
    /// LSN of the commit that wrote it.
    pub version: Lsn,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_unix_ms: Option<u64>,
    /// The value, inline or referenced.
    pub value: ValueCell,
}

/// Where a leaf entry's value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueCell {
    /// In the leaf.
    Inline(Vec<u8>),
    /// In the value log.
    Ref(ValueRef),
}

/// A branch child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildView {
    /// Page offset of the entry (its separator, or the count for child 0).
    pub offset: usize,
    /// The separator before this child (`None` for child 0).
    pub separator: Option<Vec<u8>>,
    /// The child page.
    pub child: PageId,
}

/// A page's decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing to decode (zeroed, truncated, unknown type).
    None,
    /// A superblock slot.
    Superblock(Slot),
    /// Leaf entries.
    Leaf(Vec<EntryView>),
    /// Branch children.
    Branch(Vec<ChildView>),
    /// A free-list page.
    FreeList {
        /// Next free-list page.
        next: Option<PageId>,
        /// Free page ids.
        pages: Vec<PageId>,
    },
    /// An overflow page (opaque bytes).
    Overflow,
    /// The payload does not decode.
    Undecodable(String),
}

/// A page, decoded for the page-detail and ownership views.
#[derive(Debug, Clone)]
pub struct PageView {
    /// The page.
    pub id: PageId,
    /// The bytes read (fewer than a page at the end of the file).
    pub raw: Vec<u8>,
    /// `Ok(summary)` or the decoder's error.
    pub verdict: Result<String, String>,
    /// Header fields with offsets.
    pub fields: Vec<FieldRow>,
    /// Stored and computed CRC32C.
    pub crc: Option<(u32, u32)>,
    /// The payload.
    pub content: Content,
    /// Said about the content (decoded despite a bad header, say).
    pub note: Option<String>,
    /// What each byte is.
    pub spans: Vec<ByteSpan>,
}

impl PageView {
    /// Number of rows the entries list has.
    #[must_use]
    pub fn entry_count(&self) -> usize {
        match &self.content {
            Content::Leaf(e) => e.len(),
            Content::Branch(c) => c.len(),
            Content::FreeList { pages, .. } => pages.len(),
            _ => 0,
        }
    }

    /// What byte `offset` is.
    #[must_use]
    pub fn kind_at(&self, offset: usize) -> ByteKind {
        self.spans.iter().find(|s| (s.start..s.end).contains(&offset)).map_or(ByteKind::Free, |s| s.kind)
    }
}

fn read_le(bytes: &[u8], offset: usize, size: usize) -> Option<u64> {
    let field = bytes.get(offset..offset + size)?;
    let mut buf = [0u8; 8];
    buf.get_mut(..size)?.copy_from_slice(field);
    Some(u64::from_le_bytes(buf))
}

fn raw_fields(layout: &Layout, bytes: &[u8]) -> Vec<FieldRow> {
    layout
        .fields
        .iter()
        .map(|f| {
            let raw = bytes.get(f.offset..f.offset + f.size).map(super::text::hex).unwrap_or_else(|| "—".into());
            let field = bytes.get(f.offset..f.offset + f.size);
            let (value, bad) = match (f.ty, field) {
                (_, None) => ("(past the end)".to_owned(), true),
                ("bytes", Some(b)) if b.iter().all(|&x| x == 0) => ("zero".to_owned(), false),
                ("bytes", Some(_)) => ("NOT zero (reserved)".to_owned(), true),
                (_, Some(_)) => (read_le(bytes, f.offset, f.size).map_or_else(String::new, |v| v.to_string()), false),
            };
            FieldRow { offset: f.offset, size: f.size, name: f.name, raw, value, bad }
        })
        .collect()
}

fn magic_text(v: u64) -> String {
    let b = (v as u32).to_le_bytes();
    b.iter().map(|&c| if c.is_ascii_graphic() { c as char } else { '.' }).collect()
}

/// Decodes superblock page `slot` for display.
#[must_use]
pub fn superblock_page(slot: Slot, raw: Vec<u8>, decoded: &Result<Superblock, Error>) -> PageView {
    let mut fields = raw_fields(&jubilant_format::superblock::LAYOUT, &raw);
    for f in &mut fields {
        if f.name == "magic" {
            let v = read_le(&raw, 0, 4).unwrap_or(0);
            f.value = format!("{:?}{}", magic_text(v), if v == u64::from(SUPERBLOCK_MAGIC) { "" } else { " ≠ JBSB" });
            f.bad = v != u64::from(SUPERBLOCK_MAGIC);
        }
    }
    let stored = read_le(&raw, SUPERBLOCK_LEN - 4, 4).map(|v| v as u32);
    let computed = raw.get(..SUPERBLOCK_LEN - 4).map(jubilant_format::hash::crc32c);
    let crc = stored.zip(computed);
    if let Some((s, c)) = crc
        && let Some(f) = fields.iter_mut().find(|f| f.name == "crc32c")
    {
        f.value = format!("{s:#010x}");
        f.bad = s != c;
    }
    let verdict = match decoded {
        Ok(sb) => Ok(format!("valid superblock, slot {}, generation {}", slot.letter(), sb.generation)),
        Err(e) => Err(e.to_string()),
    };
    let len = raw.len();
    let mut spans = vec![ByteSpan { start: 0, end: SUPERBLOCK_LEN - 4, kind: ByteKind::Header }];
    spans.push(ByteSpan { start: SUPERBLOCK_LEN - 4, end: SUPERBLOCK_LEN, kind: ByteKind::Crc });
    spans.push(ByteSpan { start: SUPERBLOCK_LEN, end: len.max(SUPERBLOCK_LEN), kind: ByteKind::Free });
    PageView {
        id: slot.page(),
        raw,
        verdict,
        fields,
        crc,
        content: Content::Superblock(slot),
        note: Some("the rest of a superblock page is zero".into()),
        spans,
    }
}

/// Decodes tree page `page` (id ≥ 2) for display.
#[must_use]
pub fn tree_page(page: PageId, raw: Vec<u8>, page_size: PageSize) -> PageView {
    let header = PageHeader::open(&raw, page, page_size);
    let mut fields = raw_fields(&jubilant_format::page::LAYOUT, &raw);
    let magic = read_le(&raw, 0, 4).unwrap_or(0);
    let type_tag = read_le(&raw, 6, 1).unwrap_or(0) as u8;
    let payload_len = read_le(&raw, 24, 4).unwrap_or(0) as usize;
    let crc = (raw.len() == page_size.bytes()).then(|| (stored_crc(&raw).unwrap_or(0), page_crc(&raw)));
    for f in &mut fields {
        match f.name {
            "magic" => {
                f.value =
                    format!("{:?}{}", magic_text(magic), if magic == u64::from(PAGE_MAGIC) { "" } else { " ≠ JBPG" });
                f.bad = magic != u64::from(PAGE_MAGIC);
            }
            "page_type" => {
                f.value = match PageType::from_tag(type_tag) {
                    Some(t) => format!("{type_tag} ({})", t.name()),
                    None => {
                        f.bad = true;
                        format!("{type_tag} (unknown)")
                    }
                };
            }
            "page_id" => {
                let found = read_le(&raw, 8, 8).unwrap_or(0);
                if found != page.get() {
                    f.value = format!("{found} ≠ {page} (where it was read)");
                    f.bad = true;
                }
            }
            "crc32c" => {
                if let Some((stored, computed)) = crc {
                    f.value = format!("{stored:#010x}");
                    f.bad = stored != computed;
                }
            }
            _ => {}
        }
    }
    let verdict = match &header {
        Ok(h) => Ok(format!("valid {} page, LSN {}, {} payload bytes", h.page_type.name(), h.page_lsn, h.payload_len)),
        // Normal for pages the file grew by and never used; a tree or
        // free-list pointer to it is reported where the pointer is.
        Err(Error::Zeroed { .. }) => Ok("never written: all zero (unused, or free)".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    // Decode the payload: trusted when the header is valid, best effort
    // when it is plausible.
    let plausible = magic == u64::from(PAGE_MAGIC)
        && raw.len() == page_size.bytes()
        && payload_len <= page_size.payload_max()
        && PageType::from_tag(type_tag).is_some();
    let (page_type, note) = match (&header, plausible) {
        (Ok(h), _) => (Some(h.page_type), None),
        (Err(Error::Zeroed { .. }), _) => (None, Some("never written: all zero".into())),
        (Err(_), true) => {
            (PageType::from_tag(type_tag), Some("decoded although the header is invalid: trust none of it".to_owned()))
        }
        (Err(_), false) => (None, Some("header implausible: payload not decoded".into())),
    };
    let payload = raw.get(PAGE_HEADER_LEN..PAGE_HEADER_LEN + payload_len).unwrap_or_default();
    let mut spans = vec![
        ByteSpan { start: 0, end: PAGE_HEADER_LEN - 4, kind: ByteKind::Header },
        ByteSpan { start: PAGE_HEADER_LEN - 4, end: PAGE_HEADER_LEN, kind: ByteKind::Crc },
    ];
    let content = match page_type {
        None => Content::None,
        Some(t) => decode_payload(t, payload, &mut spans),
    };
    let payload_end = if page_type.is_some() { PAGE_HEADER_LEN + payload_len } else { PAGE_HEADER_LEN };
    spans.push(ByteSpan { start: payload_end, end: raw.len().max(payload_end), kind: ByteKind::Free });
    PageView { id: page, raw, verdict, fields, crc, content, note, spans }
}

fn decode_payload(page_type: PageType, payload: &[u8], spans: &mut Vec<ByteSpan>) -> Content {
    let base = PAGE_HEADER_LEN;
    let mut push = |start: usize, len: usize, kind: ByteKind| {
        if len > 0 {
            spans.push(ByteSpan { start: base + start, end: base + start + len, kind });
        }
    };
    match page_type {
        PageType::Leaf => match LeafNode::decode(payload) {
            Ok(leaf) => {
                push(0, 2, ByteKind::Count);
                let mut at = 2;
                let mut entries = Vec::with_capacity(leaf.len());
                for e in (0..leaf.len()).filter_map(|i| leaf.entry(i)) {
                    // §7a: key_len, value_kind, flags, version, [expires_at], then
                    // value_len (inline) or value_ref, then key, then value.
                    let fixed = 2 + 1 + 1 + 8 + if e.expires_at_unix_ms.is_some() { 8 } else { 0 };
                    let (value, value_len) = match e.value {
                        ValueView::Inline(v) => {
                            push(at, fixed + 4, ByteKind::EntryMeta);
                            push(at + fixed + 4, e.key.len(), ByteKind::Key);
                            push(at + fixed + 4 + e.key.len(), v.len(), ByteKind::Value);
                            (ValueCell::Inline(v.to_vec()), 4 + v.len())
                        }
                        ValueView::Ref(r) => {
                            push(at, fixed, ByteKind::EntryMeta);
                            push(at + fixed, 24, ByteKind::ValueRef);
                            push(at + fixed + 24, e.key.len(), ByteKind::Key);
                            (ValueCell::Ref(r), 24)
                        }
                    };
                    let len = fixed + value_len + e.key.len();
                    entries.push(EntryView {
                        offset: base + at,
                        len,
                        key: e.key.to_vec(),
                        version: e.version,
                        expires_at_unix_ms: e.expires_at_unix_ms,
                        value,
                    });
                    at += len;
                }
                Content::Leaf(entries)
            }
            Err(reason) => undecodable(payload, reason, &mut push),
        },
        PageType::Branch => match BranchNode::decode(payload) {
            Ok(branch) => {
                push(0, 2, ByteKind::Count);
                push(2, 8, ByteKind::Pointer);
                let mut children =
                    vec![ChildView { offset: base, separator: None, child: branch.child(0).unwrap_or_default() }];
                let mut at = 10;
                for i in 1..branch.len() {
                    let sep = branch.separator(i - 1);
                    push(at, 2, ByteKind::EntryMeta);
                    push(at + 2, sep.len(), ByteKind::Key);
                    push(at + 2 + sep.len(), 8, ByteKind::Pointer);
                    children.push(ChildView {
                        offset: base + at,
                        separator: Some(sep.to_vec()),
                        child: branch.child(i).unwrap_or_default(),
                    });
                    at += 2 + sep.len() + 8;
                }
                Content::Branch(children)
            }
            Err(reason) => undecodable(payload, reason, &mut push),
        },
        PageType::FreeList => match FreeListPage::decode(payload) {
            Ok(list) => {
                push(0, 8, ByteKind::Pointer);
                push(8, 4, ByteKind::Count);
                push(12, list.pages.len() * 8, ByteKind::Pointer);
                Content::FreeList { next: list.next, pages: list.pages }
            }
            Err(reason) => undecodable(payload, reason, &mut push),
        },
        PageType::Overflow => {
            push(0, payload.len(), ByteKind::Value);
            Content::Overflow
        }
    }
}

fn undecodable(payload: &[u8], reason: String, push: &mut impl FnMut(usize, usize, ByteKind)) -> Content {
    push(0, payload.len(), ByteKind::Undecoded);
    Content::Undecodable(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jubilant_engine::btree::node::{LeafEntry, StoredValue, encode_leaf};

    fn leaf_page(id: u64, entries: &[LeafEntry<'_>]) -> Vec<u8> {
        let mut payload = Vec::new();
        encode_leaf(entries, &mut payload);
        let mut page = vec![0u8; 4096];
        page[32..32 + payload.len()].copy_from_slice(&payload);
        PageHeader {
            page_type: PageType::Leaf,
            page_id: PageId(id),
            page_lsn: Lsn(7),
            payload_len: payload.len() as u32,
        }
        .seal(&mut page);
        page
    }

    fn entry(key: &str, value: &str) -> LeafEntry<'static> {
        LeafEntry {
            key: key.as_bytes().to_vec().into(),
            value: StoredValue::Inline(value.as_bytes().to_vec().into()),
            version: Lsn(3),
            expires_at_unix_ms: None,
        }
    }

    #[test]
    fn leaf_spans_cover_the_payload_exactly() {
        let page = leaf_page(5, &[entry("a", "xyz"), entry("bb", "")]);
        let view = tree_page(PageId(5), page, PageSize::DEFAULT);
        assert!(view.verdict.is_ok(), "{:?}", view.verdict);
        let Content::Leaf(entries) = &view.content else { panic!("not a leaf: {:?}", view.content) };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].offset, 34);
        assert_eq!(entries[1].offset, 34 + entries[0].len);
        let payload_end = 34 + entries[0].len + entries[1].len;
        assert_eq!(view.kind_at(payload_end - 1), ByteKind::Key);
        assert_eq!(view.kind_at(payload_end), ByteKind::Free);
        assert_eq!(view.kind_at(28), ByteKind::Crc);
    }

    #[test]
    fn a_flipped_byte_still_shows_entries_untrusted() {
        let mut page = leaf_page(5, &[entry("a", "xyz")]);
        page[100] ^= 1;
        let view = tree_page(PageId(5), page, PageSize::DEFAULT);
        assert!(view.verdict.as_ref().is_err_and(|e| e.contains("checksum")), "{:?}", view.verdict);
        assert!(matches!(view.content, Content::Leaf(_)));
        assert!(view.note.is_some());
        assert!(view.fields.iter().any(|f| f.name == "crc32c" && f.bad));
        let (class, error) = classify(PageId(5), &view.raw, PageSize::DEFAULT);
        assert_eq!(class, PageClass::Corrupt);
        assert!(error.is_some());
    }
}
