//! Which pages a checkpoint may write to.
//!
//! Invariant: a checkpoint writes only to pages that the durable
//! superblock's tree and free list do not reach, so a crash at any point
//! before the new superblock is durable leaves the previous checkpoint
//! intact. Pages that the new tree stops using are not reusable until the
//! new superblock is durable *and* no iterator still reads the old tree:
//! they wait in `deferred`, tagged with the last generation that uses them.
//! The persisted free list holds every page not in the tree, deferred ones
//! included (after a restart no reader remains).

use std::collections::BTreeSet;

use jubilant_format::{Generation, PageId, Superblock};

use crate::btree::apply::PageAllocator;
use crate::btree::node::FreeListPage;
use crate::error::Result;
use crate::pager::Pager;

/// Free pages and where they stand.
#[derive(Debug, Default)]
pub struct FreeSpace {
    /// Pages in the page file.
    pub page_count: u64,
    /// Pages a checkpoint may write now.
    free: BTreeSet<PageId>,
    /// Pages the tree of the given generation uses and newer ones do not.
    deferred: Vec<(Generation, Vec<PageId>)>,
    /// Pages holding the durable free list (free after the next checkpoint).
    list_pages: Vec<PageId>,
}

impl FreeSpace {
    /// Loads the free list the superblock names.
    pub fn load(pager: &Pager, sb: &Superblock) -> Result<FreeSpace> {
        let mut space = FreeSpace { page_count: sb.page_count, ..FreeSpace::default() };
        let mut next = sb.free_list_head;
        while let Some(page) = next {
            if space.list_pages.len() as u64 > sb.page_count {
                return Err(crate::Error::NeedsRepair { reason: "the free list has a cycle".into() });
            }
            let fl = pager.free_list_page(page)?;
            space.list_pages.push(page);
            for p in fl.pages {
                if p.get() < 2 || p.get() >= sb.page_count {
                    return Err(crate::Error::NeedsRepair {
                        reason: format!("free-list page {page} lists page {p}, outside the page file"),
                    });
                }
                space.free.insert(p);
            }
            next = fl.next;
        }
        Ok(space)
    }

    /// Makes deferred pages reusable once no reader pins a generation that
    /// uses them (`oldest_pinned`: the oldest generation an iterator reads).
    pub fn release_deferred(&mut self, oldest_pinned: Option<Generation>) {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(generation, _)| oldest_pinned.is_none_or(|p| *generation < p));
        self.deferred = waiting;
        for (_, pages) in ready {
            self.free.extend(pages);
        }
    }

    /// Pages that become free once the checkpoint replacing `generation`
    /// is durable: the old tree's replaced pages and the old free list's
    /// own pages.
    pub fn defer(&mut self, generation: Generation, mut pages: Vec<PageId>) {
        pages.append(&mut self.list_pages);
        self.deferred.push((generation, pages));
    }

    /// Number of pages a checkpoint may write now.
    #[must_use]
    pub fn free_now(&self) -> usize {
        self.free.len()
    }

    /// Writes the free list for the checkpoint being made, holding every
    /// page not in the new tree: the free pages left, `pending` (pages the
    /// new tree stops using) and the deferred ones. Its own pages come
    /// from the free pages. Returns the head and the list's pages. Not
    /// synced.
    pub fn write_free_list(
        &mut self,
        pager: &Pager,
        pending: &[PageId],
        lsn: jubilant_format::Lsn,
    ) -> Result<(Option<PageId>, Vec<PageId>)> {
        let per_page = FreeListPage::capacity(pager.page_size().payload_max());
        let others = pending.len() + self.list_pages.len() + self.deferred.iter().map(|(_, p)| p.len()).sum::<usize>();
        let mut own: Vec<PageId> = Vec::new();
        loop {
            let total = self.free.len() + others;
            let needed = total.div_ceil(per_page);
            if own.len() >= needed {
                break;
            }
            let page = self.allocate_with(pager)?;
            own.push(page);
        }
        let mut ids: Vec<PageId> = self.free.iter().copied().collect();
        ids.extend_from_slice(pending);
        ids.extend_from_slice(&self.list_pages);
        for (_, p) in &self.deferred {
            ids.extend_from_slice(p);
        }
        ids.sort();
        assert!(ids.windows(2).all(|w| matches!(w, [a, b] if a < b)), "a page is free twice");
        let mut chunks: Vec<&[PageId]> = ids.chunks(per_page).collect();
        chunks.resize(own.len(), &[]);
        let mut payload = Vec::new();
        for (i, (&page, chunk)) in own.iter().zip(&chunks).enumerate() {
            payload.clear();
            FreeListPage { next: own.get(i + 1).copied(), pages: chunk.to_vec() }.encode(&mut payload);
            pager.write_page(page, jubilant_format::PageType::FreeList, lsn, &payload)?;
        }
        Ok((own.first().copied(), own))
    }

    fn allocate_with(&mut self, pager: &Pager) -> Result<PageId> {
        if let Some(page) = self.free.pop_first() {
            return Ok(page);
        }
        // Grow the file in large steps: an eighth of its size, at least 64
        // pages.
        let old = self.page_count;
        let new = old + (old / 8).max(64);
        pager.set_page_count(new)?;
        self.page_count = new;
        self.free.extend((old..new).map(PageId));
        match self.free.pop_first() {
            Some(page) => Ok(page),
            None => unreachable!("the file just grew"),
        }
    }

    /// After the new superblock is durable: the new free list's pages.
    pub fn committed(&mut self, list_pages: Vec<PageId>) {
        self.list_pages = list_pages;
    }
}

/// The allocator a checkpoint hands to the tree update.
pub struct CheckpointAllocator<'a> {
    /// Free space.
    pub space: &'a mut FreeSpace,
    /// The pager (to grow the file).
    pub pager: &'a Pager,
}

impl PageAllocator for CheckpointAllocator<'_> {
    fn allocate(&mut self) -> Result<PageId> {
        self.space.allocate_with(self.pager)
    }
}
