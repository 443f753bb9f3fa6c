//! The repair drill: damage a stopped server's directory (bit flips in the
//! WAL tail and the value log), `jubectl repair`, restart, and every commit
//! before the damage is there.

use std::io::{Read, Seek, SeekFrom, Write};

use jubilant_e2e::process::{Server, TempDir, jubectl};

use crate::client;

/// Flips one bit of the file at `offset`.
fn flip(path: &std::path::Path, offset: u64) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0x10]).unwrap();
    f.sync_all().unwrap();
}

/// The last record of a dump stream (`records` lines of ndjson).
fn last_record(dump: &str) -> serde_json::Value {
    dump.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["type"] == "record")
        .unwrap_or_else(|| panic!("no record in the dump:\n{dump}"))
}

#[test]
fn repair_after_damage_to_the_wal_tail_and_the_value_log_keeps_every_earlier_commit() {
    let dir = TempDir::new("repair");
    let data = dir.0.join("db");
    let server = Server::start(&data, "");
    let c = client(&server);
    let value = |i: usize| if i.is_multiple_of(3) { vec![b'L'; 4_000 + i] } else { format!("small{i}").into_bytes() };
    let n = 60;
    for i in 0..n {
        c.set(format!("k{i:03}").as_bytes(), &value(i), None).unwrap();
    }
    // The last commit writes a value-log value too, and is the one damaged.
    c.set(b"last", &vec![b'Z'; 5_000], None).unwrap();
    assert!(server.terminate().success());

    let d = data.to_str().unwrap();
    let (code, wal, err) = jubectl(&["dump-wal", d, "--format", "ndjson"]);
    assert_eq!(code, 0, "{err}");
    let rec = last_record(&wal);
    flip(&data.join(rec["file"].as_str().unwrap()), rec["offset"].as_u64().unwrap() + 10);
    let (code, vlog, err) = jubectl(&["dump-vlog", d, "--format", "ndjson"]);
    assert_eq!(code, 0, "{err}");
    let rec = last_record(&vlog);
    flip(&data.join(rec["file"].as_str().unwrap()), rec["offset"].as_u64().unwrap() + 100);

    let (code, out, _) = jubectl(&["validate", d]);
    assert_eq!(code, 4, "validate should report the damage:\n{out}");
    let (code, out, err) = jubectl(&["repair", d, "--drop-dangling"]);
    assert!(code == 1 || code == 0, "repair exit {code}:\n{out}\n{err}");
    let (code, out, _) = jubectl(&["validate", d]);
    assert_eq!(code, 0, "validate after repair:\n{out}");

    let server = Server::start(&data, "");
    let c = client(&server);
    for i in 0..n {
        let got = c.get(format!("k{i:03}").as_bytes()).unwrap();
        assert_eq!(got.map(|kv| kv.value), Some(value(i)), "k{i:03} after repair");
    }
}
