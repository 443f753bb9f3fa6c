//! Findings: what the validator reports, one per problem, each saying how
//! bad it is, where it is (file, offset, page, LSN), what was expected and
//! what was found, and which command to run next.
//!
//! Field names and [`FindingKind`] names are part of `jubectl`'s JSON
//! output: they only ever gain variants.

use serde::Serialize;

/// How bad a finding is.
///
/// `Error` and `Warning` findings make `jubectl validate` exit with 4
/// (problems left uncorrected); `Info` findings are listed but do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, nothing wrong (a file the engine ignores).
    Info,
    /// Abnormal but no acknowledged data is at risk (a torn WAL tail that
    /// opening would truncate, a leaked page).
    Warning,
    /// The format is violated: data may be unreadable, or opening fails.
    Error,
}

impl Severity {
    /// Lower-case name, as in the JSON output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What a finding is about. The snake-case names are stable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum FindingKind {
            $($(#[$doc])* $variant,)*
        }

        impl FindingKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [FindingKind] = &[$(FindingKind::$variant,)*];

            /// The stable snake-case name.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(FindingKind::$variant => $name,)*
                }
            }
        }
    };
}

kinds! {
    /// The data directory holds a file the engine does not use.
    UnknownFile => "unknown_file",
    /// `MANIFEST` is missing.
    ManifestMissing => "manifest_missing",
    /// `MANIFEST` fails its checks (envelope, CRC, FlatBuffer).
    ManifestInvalid => "manifest_invalid",
    /// `MANIFEST` is intact but this build cannot open it (format
    /// version, schema hash, checksum algorithm).
    ManifestIncompatible => "manifest_incompatible",
    /// `pages.jdb` is missing.
    PageFileMissing => "page_file_missing",
    /// `pages.jdb` is shorter than the superblock's `page_count`.
    PageFileShort => "page_file_short",
    /// `pages.jdb` ends inside a page.
    PageFilePartialPage => "page_file_partial_page",
    /// A superblock slot fails its checks.
    SuperblockInvalid => "superblock_invalid",
    /// A superblock slot holds another directory's superblock.
    SuperblockForeign => "superblock_foreign",
    /// Neither superblock slot is valid.
    NoValidSuperblock => "no_valid_superblock",
    /// A reachable page fails its header checks (magic, CRC, id, …).
    PageCorrupt => "page_corrupt",
    /// A page id outside `2 .. page_count`.
    PageOutOfRange => "page_out_of_range",
    /// A reachable page of the wrong type (a free-list page in the tree).
    PageWrongType => "page_wrong_type",
    /// A reachable page whose `page_lsn` is above the checkpoint LSN: a
    /// later checkpoint overwrote it.
    PageLsnAhead => "page_lsn_ahead",
    /// A page reachable twice (from the tree or the free list).
    PageReachableTwice => "page_reachable_twice",
    /// A tree page's payload does not decode.
    NodeInvalid => "node_invalid",
    /// A key outside the fences its parent gives, or keys out of order.
    KeyOutsideFences => "key_outside_fences",
    /// Leaves at different depths, or a tree deeper than the limit.
    DepthMismatch => "depth_mismatch",
    /// A leaf with no entries.
    LeafEmpty => "leaf_empty",
    /// Two adjacent siblings that would fit in one page.
    NodeUnderfull => "node_underfull",
    /// An entry whose version LSN is above the checkpoint LSN.
    EntryVersionAhead => "entry_version_ahead",
    /// An expiry that cannot be right (zero with the expiry flag set).
    TtlInvalid => "ttl_invalid",
    /// The superblock's `key_count` differs from the keys in the leaves.
    KeyCountMismatch => "key_count_mismatch",
    /// A free-list page fails its checks.
    FreeListInvalid => "free_list_invalid",
    /// The free list loops.
    FreeListCycle => "free_list_cycle",
    /// The free list names a page outside `2 .. page_count`.
    FreePageOutOfRange => "free_page_out_of_range",
    /// The free list names a page twice.
    FreePageDuplicate => "free_page_duplicate",
    /// A page both free and in the tree: the next checkpoint would
    /// overwrite live data.
    FreePageInUse => "free_page_in_use",
    /// A page neither in the tree nor free: space lost.
    PageLeaked => "page_leaked",
    /// `wal/` is missing, or holds no segment although the directory has
    /// checkpointed.
    WalMissing => "wal_missing",
    /// A WAL segment header fails its checks.
    WalSegmentHeaderInvalid => "wal_segment_header_invalid",
    /// The newest WAL segment's header is torn and it holds no record (a
    /// segment creation interrupted by a crash).
    WalTornHeader => "wal_torn_header",
    /// A WAL segment header names another segment or directory.
    WalSegmentMismatch => "wal_segment_mismatch",
    /// LSNs missing between segments, or before the first one replay needs.
    WalGap => "wal_gap",
    /// The WAL ends below the superblock's checkpoint LSN.
    WalBehindCheckpoint => "wal_behind_checkpoint",
    /// Bad bytes at the end of the WAL that no durable record follows: an
    /// interrupted append; nothing after them was acknowledged.
    WalTornTail => "wal_torn_tail",
    /// Bad bytes followed by records that were durable: acknowledged
    /// commits lie behind the damage.
    WalMidLogCorruption => "wal_mid_log_corruption",
    /// Damage in a segment whose records are all already checkpointed.
    WalObsoleteSegmentDamaged => "wal_obsolete_segment_damaged",
    /// A WAL record with a valid envelope whose payload does not decode.
    WalPayloadInvalid => "wal_payload_invalid",
    /// A change or commit of a transaction that never began.
    WalTxnInvalid => "wal_txn_invalid",
    /// A value-log segment header fails its checks.
    VlogSegmentHeaderInvalid => "vlog_segment_header_invalid",
    /// Bad bytes at the end of a value-log segment, nothing valid after.
    VlogTornTail => "vlog_torn_tail",
    /// Bad bytes in the middle of a value-log segment.
    VlogCorruptRecord => "vlog_corrupt_record",
    /// A value reference to a segment or offset that does not exist.
    ValueRefDangling => "value_ref_dangling",
    /// A value reference to a record that is not the one it was made for.
    ValueRefMismatch => "value_ref_mismatch",
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem (or observation) and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// The file, relative to the data directory, `/`-separated.
    pub file: String,
    /// Byte offset in that file, when one applies.
    pub offset: Option<u64>,
    /// The page id, for page-file findings.
    pub page: Option<u64>,
    /// The LSN, for WAL findings.
    pub lsn: Option<u64>,
    /// What should be there.
    pub expected: String,
    /// What is there.
    pub found: String,
    /// One sentence for people.
    pub message: String,
    /// The command to run next (empty when none is needed).
    pub suggestion: String,
}

impl Finding {
    /// A finding with no location beyond the file, and no suggestion yet.
    #[must_use]
    pub fn new(severity: Severity, kind: FindingKind, file: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity,
            kind,
            file: file.into(),
            offset: None,
            page: None,
            lsn: None,
            expected: String::new(),
            found: String::new(),
            message: message.into(),
            suggestion: String::new(),
        }
    }

    /// Sets the byte offset.
    #[must_use]
    pub fn at(mut self, offset: u64) -> Finding {
        self.offset = Some(offset);
        self
    }

    /// Sets the page id (and, unless set, the page's offset).
    #[must_use]
    pub fn page(mut self, page: u64, page_size: u32) -> Finding {
        self.page = Some(page);
        if self.offset.is_none() {
            self.offset = Some(page.saturating_mul(u64::from(page_size)));
        }
        self
    }

    /// Sets the LSN.
    #[must_use]
    pub fn lsn(mut self, lsn: u64) -> Finding {
        self.lsn = Some(lsn);
        self
    }

    /// Sets expected and found.
    #[must_use]
    pub fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Finding {
        self.expected = expected.into();
        self.found = found.into();
        self
    }

    /// Sets the suggested next command.
    #[must_use]
    pub fn suggest(mut self, suggestion: impl Into<String>) -> Finding {
        self.suggestion = suggestion.into();
        self
    }
}

/// What a `jubilant_format::Error` says was expected and found, in words.
#[must_use]
pub fn expected_found_of(error: &jubilant_format::Error) -> (String, String) {
    use jubilant_format::Error as E;
    match error {
        E::Truncated { needed, available, .. } => (format!("{needed} bytes"), format!("{available} bytes")),
        E::Zeroed { len, .. } => ("a written structure".into(), format!("{len} zero bytes")),
        E::BadMagic { expected, found, .. } => (format!("magic {expected:#010x}"), format!("magic {found:#010x}")),
        E::ChecksumMismatch { stored, computed, .. } => {
            (format!("crc32c {stored:#010x} (stored)"), format!("crc32c {computed:#010x} (computed)"))
        }
        E::UnsupportedVersion { found, supported, .. } => (format!("version {supported}"), format!("version {found}")),
        E::InvalidField { field, found, expected, .. } => {
            (format!("{field}: {expected}"), format!("{field} = {found}"))
        }
        E::MisdirectedPage { expected, found, .. } => (format!("page id {expected}"), format!("page id {found}")),
        E::SuperblockMisplaced { slot, generation, belongs_in, .. } => (
            format!("a generation that belongs in slot {slot}"),
            format!("generation {generation} (slot {belongs_in})"),
        ),
        E::ForeignSuperblock { expected, found, .. } => {
            (format!("manifest hash {expected:#018x}"), format!("manifest hash {found:#018x}"))
        }
        E::WalLengthOutOfBounds { len, max, .. } => (format!("payload length <= {max}"), format!("{len}")),
        E::WalLsnDiscontinuity { expected, found, .. } => (format!("LSN {expected}"), format!("LSN {found}")),
        E::SchemaHashMismatch { expected, found } => {
            (format!("schema hash {expected:#018x}"), format!("schema hash {found:#018x}"))
        }
        other => ("a valid structure".into(), other.to_string()),
    }
}

/// The byte offset a `jubilant_format::Error` names, if any.
#[must_use]
pub fn offset_of(error: &jubilant_format::Error) -> Option<u64> {
    use jubilant_format::Error as E;
    match error {
        E::Truncated { offset, .. }
        | E::Zeroed { offset, .. }
        | E::BadMagic { offset, .. }
        | E::ChecksumMismatch { offset, .. }
        | E::UnsupportedVersion { offset, .. }
        | E::InvalidField { offset, .. }
        | E::MisdirectedPage { offset, .. }
        | E::SuperblockMisplaced { offset, .. }
        | E::ForeignSuperblock { offset, .. }
        | E::WalLengthOutOfBounds { offset, .. }
        | E::WalLsnDiscontinuity { offset, .. }
        | E::InvalidFlatbuffer { offset, .. } => Some(*offset),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for kind in FindingKind::ALL {
            assert!(seen.insert(kind.name()), "{kind:?}");
            assert!(kind.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{kind:?}");
        }
    }
}
