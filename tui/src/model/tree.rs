//! B+Tree nodes for the tree browser: read lazily, one page at a time,
//! decoded by the engine's node decoders.

use std::sync::Arc;

use jubilant_engine::btree::node::{BranchNode, LeafNode};
use jubilant_format::{PageHeader, PageId, PageType};

use super::dir::DataDir;

/// A decoded tree node.
#[derive(Debug)]
pub enum TreeNode {
    /// A leaf.
    Leaf(LeafNode),
    /// A branch.
    Branch(BranchNode),
}

impl TreeNode {
    /// Entries (leaf) or children (branch).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            TreeNode::Leaf(l) => l.len(),
            TreeNode::Branch(b) => b.len(),
        }
    }

    /// Whether the node has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads and decodes the tree node on `page`; the error says what is wrong
/// (the format decoder's error, or the engine's payload decoder's).
pub fn load_node(dir: &DataDir, page: PageId) -> Result<Arc<TreeNode>, String> {
    let raw = dir.read_page(page)?;
    let header = PageHeader::open(&raw, page, dir.page_size).map_err(|e| e.to_string())?;
    let payload = header.payload(&raw);
    let node = match header.page_type {
        PageType::Leaf => TreeNode::Leaf(LeafNode::decode(payload).map_err(|r| format!("leaf page {page}: {r}"))?),
        PageType::Branch => {
            TreeNode::Branch(BranchNode::decode(payload).map_err(|r| format!("branch page {page}: {r}"))?)
        }
        other => return Err(format!("page {page} is a {} page, not a tree node", other.name())),
    };
    Ok(Arc::new(node))
}
