//! The pager: reads and writes pages of `pages.jdb` through the storage
//! trait, verifying every read, and caches decoded nodes.
//!
//! Invariants:
//! - Every page read is checked against its header CRC and expected page
//!   id before anything uses it; a mismatch is an error naming the file,
//!   offset and page, never silently returned data.
//! - Only checkpoints write pages, and only to pages that the current
//!   durable superblock does not reach (see `checkpoint`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jubilant_format::page::PAGE_HEADER_LEN;
use jubilant_format::superblock::{SUPERBLOCK_LEN, Slot, Superblock};
use jubilant_format::{Lsn, PageHeader, PageId, PageSize, PageType};

use crate::btree::node::{BranchNode, FreeListPage, LeafNode, Node};
use crate::cache::PageCache;
use crate::error::{Error, Result};
use crate::storage::{StorageFile, read_exact_at};

/// Reads and writes pages.
#[derive(Debug)]
pub struct Pager {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    page_size: PageSize,
    cache: PageCache,
}

impl Pager {
    /// A pager over the open page file at `path`.
    #[must_use]
    pub fn new(file: Arc<dyn StorageFile>, path: &Path, page_size: PageSize, cache_bytes: usize) -> Pager {
        Pager { file, path: path.to_path_buf(), page_size, cache: PageCache::new(cache_bytes) }
    }

    /// The page size.
    #[must_use]
    pub fn page_size(&self) -> PageSize {
        self.page_size
    }

    /// The page file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cache (for its counters).
    #[must_use]
    pub fn cache(&self) -> &PageCache {
        &self.cache
    }

    /// Reads the raw bytes of a page, without verifying them.
    pub fn read_raw(&self, page: PageId) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; self.page_size.bytes()];
        read_exact_at(&*self.file, &mut buf, page.offset(self.page_size))
            .map_err(|e| Error::io("read page", &self.path, e))?;
        Ok(buf)
    }

    /// Reads and verifies a page; returns its header and payload.
    pub fn read_verified(&self, page: PageId) -> Result<(PageHeader, Vec<u8>)> {
        let raw = self.read_raw(page)?;
        let header = PageHeader::open(&raw, page, self.page_size).map_err(|source| Error::CorruptPage {
            path: self.path.clone(),
            page,
            source,
        })?;
        let payload = header.payload(&raw).to_vec();
        Ok((header, payload))
    }

    fn corrupt_node(&self, page: PageId, reason: String) -> Error {
        Error::CorruptNode { path: self.path.clone(), page, reason }
    }

    /// The tree node on `page`, from the cache or read and verified.
    pub fn node(&self, page: PageId) -> Result<Arc<Node>> {
        if let Some(node) = self.cache.get(page) {
            return Ok(node);
        }
        let (header, payload) = self.read_verified(page)?;
        let node = match header.page_type {
            PageType::Leaf => Node::Leaf(LeafNode::decode(&payload).map_err(|r| self.corrupt_node(page, r))?),
            PageType::Branch => Node::Branch(BranchNode::decode(&payload).map_err(|r| self.corrupt_node(page, r))?),
            other => {
                return Err(self.corrupt_node(page, format!("expected a tree page, found a {} page", other.name())));
            }
        };
        let node = Arc::new(node);
        self.cache.insert(page, Arc::clone(&node));
        Ok(node)
    }

    /// The node of `page` if it is cached; `None` (and no I/O) if not.
    pub fn cached_node(&self, page: PageId) -> Option<Arc<Node>> {
        self.cache.get(page)
    }

    /// Drops the cached node of `page` (freed by a checkpoint).
    pub fn forget(&self, page: PageId) {
        self.cache.remove(page);
    }

    /// Reads a free-list page.
    pub fn free_list_page(&self, page: PageId) -> Result<FreeListPage> {
        let (header, payload) = self.read_verified(page)?;
        if header.page_type != PageType::FreeList {
            return Err(
                self.corrupt_node(page, format!("expected a free-list page, found a {} page", header.page_type.name()))
            );
        }
        FreeListPage::decode(&payload).map_err(|r| self.corrupt_node(page, r))
    }

    /// Writes a page of `page_type` with `payload`, sealed with its CRC.
    pub fn write_page(&self, page: PageId, page_type: PageType, lsn: Lsn, payload: &[u8]) -> Result<()> {
        assert!(page.get() >= 2, "pages 0 and 1 hold the superblocks");
        assert!(payload.len() <= self.page_size.payload_max(), "payload of {} bytes", payload.len());
        let mut buf = vec![0u8; self.page_size.bytes()];
        if let Some(dst) = buf.get_mut(PAGE_HEADER_LEN..PAGE_HEADER_LEN + payload.len()) {
            dst.copy_from_slice(payload);
        }
        PageHeader { page_type, page_id: page, page_lsn: lsn, payload_len: payload.len() as u32 }.seal(&mut buf);
        // The page gets new content: a cached node of its old content must
        // go (write_node caches the new one).
        self.cache.remove(page);
        self.file.write_at(&buf, page.offset(self.page_size)).map_err(|e| Error::io("write page", &self.path, e))
    }

    /// Writes a tree node and caches its decoded form.
    pub fn write_node(&self, page: PageId, page_type: PageType, lsn: Lsn, payload: &[u8]) -> Result<()> {
        self.write_page(page, page_type, lsn, payload)?;
        let node = match page_type {
            PageType::Leaf => LeafNode::decode(payload).map(Node::Leaf),
            PageType::Branch => BranchNode::decode(payload).map(Node::Branch),
            other => unreachable!("write_node is for tree pages, not {}", other.name()),
        };
        match node {
            Ok(node) => self.cache.insert(page, Arc::new(node)),
            Err(reason) => unreachable!("a node this engine encoded decodes: {reason}"),
        }
        Ok(())
    }

    /// Reads both superblock slots (each `SUPERBLOCK_LEN` bytes; zeros
    /// beyond the end of a short file).
    pub fn read_slots(&self) -> Result<([u8; SUPERBLOCK_LEN], [u8; SUPERBLOCK_LEN])> {
        let mut slots = [[0u8; SUPERBLOCK_LEN]; 2];
        for (slot, buf) in [Slot::A, Slot::B].into_iter().zip(slots.iter_mut()) {
            let n = self
                .file
                .read_at(buf, slot.page().offset(self.page_size))
                .map_err(|e| Error::io("read superblock", &self.path, e))?;
            if let Some(rest) = buf.get_mut(n..) {
                rest.fill(0);
            }
        }
        let [a, b] = slots;
        Ok((a, b))
    }

    /// Writes `sb` into its slot (not synced).
    pub fn write_superblock(&self, sb: &Superblock) -> Result<()> {
        self.file
            .write_at(&sb.encode(), sb.slot().page().offset(self.page_size))
            .map_err(|e| Error::io("write superblock", &self.path, e))
    }

    /// fdatasync of the page file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync().map_err(|e| Error::io("fsync", &self.path, e))
    }

    /// Grows (or shrinks) the page file to `pages` pages.
    pub fn set_page_count(&self, pages: u64) -> Result<()> {
        self.file.set_len(pages * u64::from(self.page_size.get())).map_err(|e| Error::io("resize", &self.path, e))
    }

    /// Pages in the file as it is now.
    pub fn file_page_count(&self) -> Result<u64> {
        let len = self.file.len().map_err(|e| Error::io("stat", &self.path, e))?;
        Ok(len / u64::from(self.page_size.get()))
    }
}
