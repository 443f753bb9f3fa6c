//! Choosing between the A and B superblock slots.

use jubilant_format::hash::crc32c;
use jubilant_format::superblock::{SUPERBLOCK_LEN, Slot, select_superblock};
use jubilant_format::{Error, Generation, OtherSlot};

use crate::samples::{self, MANIFEST_HASH};

fn encoded(generation: u64) -> Vec<u8> {
    samples::superblock(generation).encode().to_vec()
}

fn corrupt(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes[20] ^= 0x10;
    bytes
}

fn select(a: &[u8], b: &[u8]) -> Result<jubilant_format::SuperblockChoice, Error> {
    select_superblock(a, 0, b, 4096, MANIFEST_HASH)
}

#[test]
fn a_newer_wins() {
    let choice = select(&encoded(4), &encoded(3)).unwrap();
    assert_eq!(choice.slot, Slot::A);
    assert_eq!(choice.superblock.generation, Generation(4));
    assert!(matches!(choice.other, OtherSlot::Older { superblock } if superblock.generation == Generation(3)));
}

#[test]
fn b_newer_wins() {
    let choice = select(&encoded(4), &encoded(5)).unwrap();
    assert_eq!(choice.slot, Slot::B);
    assert_eq!(choice.superblock.generation, Generation(5));
    assert!(matches!(choice.other, OtherSlot::Older { superblock } if superblock.generation == Generation(4)));
}

#[test]
fn corrupt_newer_slot_falls_back_to_the_older_one_and_says_why() {
    let choice = select(&corrupt(encoded(6)), &encoded(5)).unwrap();
    assert_eq!(choice.slot, Slot::B);
    assert_eq!(choice.superblock.generation, Generation(5));
    match choice.other {
        OtherSlot::Rejected { reason: Error::ChecksumMismatch { offset: 0, .. } } => {}
        other => panic!("{other:?}"),
    }

    let choice = select(&encoded(6), &corrupt(encoded(7))).unwrap();
    assert_eq!(choice.slot, Slot::A);
    match choice.other {
        OtherSlot::Rejected { reason: Error::ChecksumMismatch { offset: 4096, .. } } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn never_written_slot_is_rejected_as_zeroed() {
    let choice = select(&encoded(0), &[0u8; SUPERBLOCK_LEN]).unwrap();
    assert_eq!(choice.slot, Slot::A);
    assert!(matches!(choice.other, OtherSlot::Rejected { reason: Error::Zeroed { offset: 4096, .. } }));
}

#[test]
fn both_corrupt_is_a_clear_error_with_both_reasons() {
    let err = select(&corrupt(encoded(4)), &[0u8; 7]).unwrap_err();
    let Error::NoValidSuperblock { a, b } = &err else { panic!("{err:?}") };
    assert!(matches!(**a, Error::ChecksumMismatch { offset: 0, .. }), "{a:?}");
    assert!(matches!(**b, Error::Truncated { offset: 4096, needed: 128, available: 7, .. }), "{b:?}");
    let message = err.to_string();
    assert!(message.contains("slot A") && message.contains("slot B"), "{message}");
}

/// A copy of slot A's bytes in slot B (equal generations) is rejected by the
/// slot byte, so slot A wins.
#[test]
fn equal_generations_copy_is_rejected_by_the_slot_byte() {
    let a = encoded(4);
    let choice = select(&a, &a).unwrap();
    assert_eq!(choice.slot, Slot::A);
    match choice.other {
        OtherSlot::Rejected { reason: Error::InvalidField { field: "slot", found: 0, .. } } => {}
        other => panic!("{other:?}"),
    }
}

/// Equal generations with a correct slot byte (crafted, since the encoder
/// never writes it): the generation parity rejects the misplaced one.
#[test]
fn equal_generations_with_forged_slot_byte_are_rejected_by_parity() {
    let a = encoded(4);
    let mut b = a.clone();
    b[6] = 1; // slot byte: B
    let crc = crc32c(&b[..124]);
    b[124..].copy_from_slice(&crc.to_le_bytes());
    let choice = select(&a, &b).unwrap();
    assert_eq!(choice.slot, Slot::A);
    match choice.other {
        OtherSlot::Rejected {
            reason: Error::SuperblockMisplaced { slot: 'B', generation: Generation(4), belongs_in: 'A', .. },
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn superblock_of_another_directory_is_rejected() {
    let mut foreign = samples::superblock(5);
    foreign.manifest_hash ^= 1;
    let choice = select(&encoded(4), &foreign.encode()).unwrap();
    assert_eq!(choice.slot, Slot::A);
    assert!(matches!(choice.other, OtherSlot::Rejected { reason: Error::ForeignSuperblock { .. } }));
}

/// Whatever prefix of a new superblock's 128 bytes reaches the disk (the
/// rest keeping the old contents of the slot), the choice is either the new
/// superblock, complete, or the previous one.
#[test]
fn torn_superblock_write_falls_back_to_the_other_slot() {
    let old_a = encoded(4);
    let b = encoded(5);
    let new_a = encoded(6);
    for cut in 0..=SUPERBLOCK_LEN {
        let mut torn = old_a.clone();
        torn[..cut].copy_from_slice(&new_a[..cut]);
        let choice = select(&torn, &b).unwrap();
        let generation = choice.superblock.generation.get();
        assert!(generation == 6 || generation == 5, "cut {cut}: generation {generation}");
        if generation == 6 {
            assert_eq!(torn, new_a, "cut {cut}: only the complete superblock is accepted");
        }
    }
}
