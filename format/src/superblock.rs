//! Superblocks: the two slots (A and B) that say which checkpoint is
//! current.
//!
//! Slot A is the first 128 bytes of page 0 of the page file, slot B the
//! first 128 bytes of page 1; the rest of both pages is zero.
//!
//! | field             | offset | size | type  | meaning |
//! |-------------------|--------|------|-------|---------|
//! | magic             | 0      | 4    | u32   | `JBSB` |
//! | version           | 4      | 2    | u16   | format version |
//! | slot              | 6      | 1    | u8    | 0 = A, 1 = B: the slot it was written to |
//! | flags             | 7      | 1    | u8    | reserved, zero |
//! | generation        | 8      | 8    | u64   | checkpoint counter; even in A, odd in B |
//! | checkpoint_lsn    | 16     | 8    | u64   | every WAL record up to here is in the tree |
//! | checkpoint_epoch  | 24     | 8    | u64   | epoch of the record at `checkpoint_lsn` |
//! | root_page         | 32     | 8    | u64   | B+Tree root page id; 0 = empty tree |
//! | free_list_head    | 40     | 8    | u64   | first free-list page id; 0 = none |
//! | page_count        | 48     | 8    | u64   | pages in the page file, superblock pages included |
//! | manifest_hash     | 56     | 8    | u64   | FNV-1a 64 of the MANIFEST file's bytes |
//! | vlog_head_segment | 64     | 8    | u64   | oldest value-log segment still referenced |
//! | vlog_head_offset  | 72     | 8    | u64   | offset of its first live record |
//! | vlog_tail_segment | 80     | 8    | u64   | value-log segment being appended to |
//! | vlog_tail_offset  | 88     | 8    | u64   | its durable length at the checkpoint |
//! | next_txn_id       | 96     | 8    | u64   | smallest transaction id not yet used |
//! | key_count         | 104    | 8    | u64   | keys in the tree at the checkpoint |
//! | reserved          | 112    | 12   | bytes | zero |
//! | crc32c            | 124    | 4    | u32   | CRC32C of bytes 0..124 |
//!
//! Invariants:
//! - Generation g is written to slot `g % 2` (A for even), so a checkpoint
//!   always overwrites the *older* slot and the newer one stays intact
//!   while it is written: a torn superblock write loses at most the
//!   checkpoint being written, never the previous one.
//! - The valid slot with the highest generation is current.

use serde::Serialize;

use crate::FORMAT_VERSION;
use crate::codec::{FieldReader, FieldWriter, all_zero, prefix};
use crate::error::{Error, Result, Structure};
use crate::hash::crc32c;
use crate::ids::{Epoch, Generation, Lsn, PageId, SegmentId, TxnId};
use crate::layout::{Field, Layout};

/// `JBSB`, little-endian.
pub const SUPERBLOCK_MAGIC: u32 = u32::from_le_bytes(*b"JBSB");

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + 4;
const SLOT_AT: usize = VERSION_AT + 2;
const FLAGS_AT: usize = SLOT_AT + 1;
const GENERATION_AT: usize = FLAGS_AT + 1;
const CHECKPOINT_LSN_AT: usize = GENERATION_AT + 8;
const CHECKPOINT_EPOCH_AT: usize = CHECKPOINT_LSN_AT + 8;
const ROOT_PAGE_AT: usize = CHECKPOINT_EPOCH_AT + 8;
const FREE_LIST_HEAD_AT: usize = ROOT_PAGE_AT + 8;
const PAGE_COUNT_AT: usize = FREE_LIST_HEAD_AT + 8;
const MANIFEST_HASH_AT: usize = PAGE_COUNT_AT + 8;
const VLOG_HEAD_SEGMENT_AT: usize = MANIFEST_HASH_AT + 8;
const VLOG_HEAD_OFFSET_AT: usize = VLOG_HEAD_SEGMENT_AT + 8;
const VLOG_TAIL_SEGMENT_AT: usize = VLOG_HEAD_OFFSET_AT + 8;
const VLOG_TAIL_OFFSET_AT: usize = VLOG_TAIL_SEGMENT_AT + 8;
const NEXT_TXN_ID_AT: usize = VLOG_TAIL_OFFSET_AT + 8;
const KEY_COUNT_AT: usize = NEXT_TXN_ID_AT + 8;
const RESERVED_AT: usize = KEY_COUNT_AT + 8;
const RESERVED_LEN: usize = 12;
const CRC_AT: usize = RESERVED_AT + RESERVED_LEN;
/// Length of an encoded superblock.
pub const SUPERBLOCK_LEN: usize = CRC_AT + 4;
const _: () = assert!(SUPERBLOCK_LEN == 128);

/// The superblock's layout.
pub const LAYOUT: Layout = Layout {
    name: "superblock",
    fields: &[
        Field { name: "magic", offset: MAGIC_AT, size: 4, ty: "u32" },
        Field { name: "version", offset: VERSION_AT, size: 2, ty: "u16" },
        Field { name: "slot", offset: SLOT_AT, size: 1, ty: "u8" },
        Field { name: "flags", offset: FLAGS_AT, size: 1, ty: "u8" },
        Field { name: "generation", offset: GENERATION_AT, size: 8, ty: "u64" },
        Field { name: "checkpoint_lsn", offset: CHECKPOINT_LSN_AT, size: 8, ty: "u64" },
        Field { name: "checkpoint_epoch", offset: CHECKPOINT_EPOCH_AT, size: 8, ty: "u64" },
        Field { name: "root_page", offset: ROOT_PAGE_AT, size: 8, ty: "u64" },
        Field { name: "free_list_head", offset: FREE_LIST_HEAD_AT, size: 8, ty: "u64" },
        Field { name: "page_count", offset: PAGE_COUNT_AT, size: 8, ty: "u64" },
        Field { name: "manifest_hash", offset: MANIFEST_HASH_AT, size: 8, ty: "u64" },
        Field { name: "vlog_head_segment", offset: VLOG_HEAD_SEGMENT_AT, size: 8, ty: "u64" },
        Field { name: "vlog_head_offset", offset: VLOG_HEAD_OFFSET_AT, size: 8, ty: "u64" },
        Field { name: "vlog_tail_segment", offset: VLOG_TAIL_SEGMENT_AT, size: 8, ty: "u64" },
        Field { name: "vlog_tail_offset", offset: VLOG_TAIL_OFFSET_AT, size: 8, ty: "u64" },
        Field { name: "next_txn_id", offset: NEXT_TXN_ID_AT, size: 8, ty: "u64" },
        Field { name: "key_count", offset: KEY_COUNT_AT, size: 8, ty: "u64" },
        Field { name: "reserved", offset: RESERVED_AT, size: RESERVED_LEN, ty: "bytes" },
        Field { name: "crc32c", offset: CRC_AT, size: 4, ty: "u32" },
    ],
    len: SUPERBLOCK_LEN,
};
const _: () = LAYOUT.check();

/// One of the two superblock slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Slot {
    /// Page 0; even generations.
    A,
    /// Page 1; odd generations.
    B,
}

impl Slot {
    /// The slot a generation is written to.
    #[must_use]
    pub const fn for_generation(generation: Generation) -> Slot {
        if generation.0.is_multiple_of(2) { Slot::A } else { Slot::B }
    }

    /// The other slot.
    #[must_use]
    pub const fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// The slot's on-disk tag (0 or 1), which is also its page id.
    #[must_use]
    pub const fn tag(self) -> u8 {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }

    /// The page holding this slot.
    #[must_use]
    pub const fn page(self) -> PageId {
        PageId(self.tag() as u64)
    }

    /// `'A'` or `'B'`.
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Slot::A => 'A',
            Slot::B => 'B',
        }
    }
}

/// A position in the value log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct VlogCursor {
    /// Segment number.
    pub segment: SegmentId,
    /// Byte offset within the segment.
    pub offset: u64,
}

/// A decoded superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Superblock {
    /// Checkpoint counter; determines the slot.
    pub generation: Generation,
    /// Every WAL record with an LSN up to this one is reflected in the tree.
    pub checkpoint_lsn: Lsn,
    /// Epoch of the record at `checkpoint_lsn`.
    pub checkpoint_epoch: Epoch,
    /// Root of the B+Tree; `None` for an empty tree.
    pub root_page: Option<PageId>,
    /// First page of the free list; `None` when no page is free.
    pub free_list_head: Option<PageId>,
    /// Pages in the page file, the two superblock pages included.
    pub page_count: u64,
    /// FNV-1a 64 of the MANIFEST file: ties the superblock to its directory.
    pub manifest_hash: u64,
    /// Oldest value-log position still referenced.
    pub vlog_head: VlogCursor,
    /// Value-log append position at the checkpoint.
    pub vlog_tail: VlogCursor,
    /// Smallest transaction id not yet used.
    pub next_txn_id: TxnId,
    /// Keys in the tree at the checkpoint.
    pub key_count: u64,
}

fn page_or_none(id: u64) -> Option<PageId> {
    if id == 0 { None } else { Some(PageId(id)) }
}

impl Superblock {
    /// The slot this superblock is written to.
    #[must_use]
    pub const fn slot(&self) -> Slot {
        Slot::for_generation(self.generation)
    }

    /// Encodes the superblock for its slot.
    #[must_use]
    pub fn encode(&self) -> [u8; SUPERBLOCK_LEN] {
        let mut out = [0u8; SUPERBLOCK_LEN];
        self.write_fields(&mut out, 0);
        let crc = crc32c(out.get(..CRC_AT).unwrap_or_default());
        self.write_fields(&mut out, crc);
        out
    }

    fn write_fields(&self, out: &mut [u8; SUPERBLOCK_LEN], crc: u32) {
        let mut w = FieldWriter::new(out);
        w.u32(MAGIC_AT, SUPERBLOCK_MAGIC);
        w.u16(VERSION_AT, FORMAT_VERSION);
        w.u8(SLOT_AT, self.slot().tag());
        w.u8(FLAGS_AT, 0);
        w.u64(GENERATION_AT, self.generation.get());
        w.u64(CHECKPOINT_LSN_AT, self.checkpoint_lsn.get());
        w.u64(CHECKPOINT_EPOCH_AT, self.checkpoint_epoch.get());
        w.u64(ROOT_PAGE_AT, self.root_page.map_or(0, PageId::get));
        w.u64(FREE_LIST_HEAD_AT, self.free_list_head.map_or(0, PageId::get));
        w.u64(PAGE_COUNT_AT, self.page_count);
        w.u64(MANIFEST_HASH_AT, self.manifest_hash);
        w.u64(VLOG_HEAD_SEGMENT_AT, self.vlog_head.segment.get());
        w.u64(VLOG_HEAD_OFFSET_AT, self.vlog_head.offset);
        w.u64(VLOG_TAIL_SEGMENT_AT, self.vlog_tail.segment.get());
        w.u64(VLOG_TAIL_OFFSET_AT, self.vlog_tail.offset);
        w.u64(NEXT_TXN_ID_AT, self.next_txn_id.get());
        w.u64(KEY_COUNT_AT, self.key_count);
        w.reserved(RESERVED_AT, RESERVED_LEN);
        w.u32(CRC_AT, crc);
        w.finish(SUPERBLOCK_LEN);
    }

    /// Decodes the superblock read from `slot` (at file offset `offset`).
    ///
    /// Checks, in order: length, all-zero (never written), magic, CRC32C,
    /// version, flags, reserved bytes, the slot byte, and that the
    /// generation belongs in this slot.
    pub fn decode(bytes: &[u8], slot: Slot, offset: u64) -> Result<Superblock> {
        let invalid = |field, found, expected| Error::InvalidField {
            structure: Structure::Superblock,
            offset,
            field,
            found,
            expected,
        };
        let Some(fixed) = prefix::<SUPERBLOCK_LEN>(bytes) else {
            return Err(Error::Truncated {
                structure: Structure::Superblock,
                offset,
                needed: SUPERBLOCK_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        if all_zero(&fixed) {
            return Err(Error::Zeroed { structure: Structure::Superblock, offset, len: SUPERBLOCK_LEN as u64 });
        }
        let mut r = FieldReader::new(&fixed);
        let magic = r.u32(MAGIC_AT);
        let version = r.u16(VERSION_AT);
        let slot_tag = r.u8(SLOT_AT);
        let flags = r.u8(FLAGS_AT);
        let generation = Generation(r.u64(GENERATION_AT));
        let checkpoint_lsn = Lsn(r.u64(CHECKPOINT_LSN_AT));
        let checkpoint_epoch = Epoch(r.u64(CHECKPOINT_EPOCH_AT));
        let root_page = page_or_none(r.u64(ROOT_PAGE_AT));
        let free_list_head = page_or_none(r.u64(FREE_LIST_HEAD_AT));
        let page_count = r.u64(PAGE_COUNT_AT);
        let manifest_hash = r.u64(MANIFEST_HASH_AT);
        let vlog_head =
            VlogCursor { segment: SegmentId(r.u64(VLOG_HEAD_SEGMENT_AT)), offset: r.u64(VLOG_HEAD_OFFSET_AT) };
        let vlog_tail =
            VlogCursor { segment: SegmentId(r.u64(VLOG_TAIL_SEGMENT_AT)), offset: r.u64(VLOG_TAIL_OFFSET_AT) };
        let next_txn_id = TxnId(r.u64(NEXT_TXN_ID_AT));
        let key_count = r.u64(KEY_COUNT_AT);
        let reserved_zero = r.reserved(RESERVED_AT, RESERVED_LEN);
        let stored = r.u32(CRC_AT);
        r.finish(SUPERBLOCK_LEN);

        if magic != SUPERBLOCK_MAGIC {
            return Err(Error::BadMagic {
                structure: Structure::Superblock,
                offset,
                expected: SUPERBLOCK_MAGIC,
                found: magic,
            });
        }
        let computed = crc32c(fixed.get(..CRC_AT).unwrap_or_default());
        if stored != computed {
            return Err(Error::ChecksumMismatch { structure: Structure::Superblock, offset, stored, computed });
        }
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                structure: Structure::Superblock,
                offset,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if flags != 0 {
            return Err(invalid("flags", flags.into(), "0 (no flags are defined)"));
        }
        if !reserved_zero {
            return Err(invalid("reserved", 1, "all zero"));
        }
        if slot_tag != slot.tag() {
            return Err(invalid("slot", slot_tag.into(), "the tag of the slot it was read from (0 = A, 1 = B)"));
        }
        let belongs = Slot::for_generation(generation);
        if belongs != slot {
            return Err(Error::SuperblockMisplaced {
                offset,
                slot: slot.letter(),
                generation,
                belongs_in: belongs.letter(),
            });
        }
        if page_count < 2 {
            return Err(invalid("page_count", page_count, "at least 2 (the superblock pages)"));
        }
        for (field, page) in [("root_page", root_page), ("free_list_head", free_list_head)] {
            if let Some(page) = page
                && (page.get() < 2 || page.get() >= page_count)
            {
                return Err(invalid(field, page.get(), "0 or a page id from 2 to page_count - 1"));
            }
        }
        Ok(Superblock {
            generation,
            checkpoint_lsn,
            checkpoint_epoch,
            root_page,
            free_list_head,
            page_count,
            manifest_hash,
            vlog_head,
            vlog_tail,
            next_txn_id,
            key_count,
        })
    }
}

/// What became of the slot that was not chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OtherSlot {
    /// Valid, with an older generation: the previous checkpoint, which a
    /// repair could fall back to.
    Older {
        /// Its superblock.
        superblock: Superblock,
    },
    /// Rejected, for this reason.
    Rejected {
        /// Why.
        reason: Error,
    },
}

/// The result of [`select_superblock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuperblockChoice {
    /// The slot holding the current superblock.
    pub slot: Slot,
    /// The current superblock.
    pub superblock: Superblock,
    /// The state of the other slot.
    pub other: OtherSlot,
}

/// Picks the current superblock: the valid slot with the highest
/// generation. A slot is valid when it decodes (see
/// [`Superblock::decode`]) and its manifest hash is `manifest_hash`.
///
/// `a` and `b` are the bytes of the two slots (at least 128 bytes each),
/// read at file offsets `a_offset` and `b_offset`. Fails with
/// [`Error::NoValidSuperblock`], carrying both reasons, when neither slot
/// is valid.
pub fn select_superblock(
    a: &[u8],
    a_offset: u64,
    b: &[u8],
    b_offset: u64,
    manifest_hash: u64,
) -> Result<SuperblockChoice> {
    let check = |bytes: &[u8], slot: Slot, offset: u64| {
        let sb = Superblock::decode(bytes, slot, offset)?;
        if sb.manifest_hash != manifest_hash {
            return Err(Error::ForeignSuperblock { offset, expected: manifest_hash, found: sb.manifest_hash });
        }
        Ok(sb)
    };
    match (check(a, Slot::A, a_offset), check(b, Slot::B, b_offset)) {
        (Ok(sa), Ok(sb)) => {
            // Equal generations cannot both be valid: the generation fixes
            // the slot, and each slot is checked against it.
            assert_ne!(sa.generation, sb.generation, "generation parity fixes the slot");
            let (slot, current, older) =
                if sa.generation > sb.generation { (Slot::A, sa, sb) } else { (Slot::B, sb, sa) };
            Ok(SuperblockChoice { slot, superblock: current, other: OtherSlot::Older { superblock: older } })
        }
        (Ok(sa), Err(reason)) => {
            Ok(SuperblockChoice { slot: Slot::A, superblock: sa, other: OtherSlot::Rejected { reason } })
        }
        (Err(reason), Ok(sb)) => {
            Ok(SuperblockChoice { slot: Slot::B, superblock: sb, other: OtherSlot::Rejected { reason } })
        }
        (Err(a), Err(b)) => Err(Error::NoValidSuperblock { a: Box::new(a), b: Box::new(b) }),
    }
}
