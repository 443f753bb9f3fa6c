//! The dump commands: one structure at a time, as the format defines it,
//! with raw header fields even where checks fail. Values are redacted
//! unless `--show-values` (see [`super::values`]).
//!
//! JSON shapes (stable field names):
//!
//! ```text
//! dump-manifest     {"len","envelope":[{"name","offset","value"}],"manifest","error","incompatible","manifest_hash"}
//! dump-superblocks  {"page_size","current","slots":[{"slot","offset","state","error","superblock","fields"}]}
//! dump-page         {"page","offset","page_size","header_fields","header","content":{"type",…},"hex"}
//! dump-wal          {"records":[RECORD],"segments":[SEGMENT]}; ndjson: one RECORD or SEGMENT per line
//!   RECORD  {"type":"record","file","segment","offset","lsn","epoch","len","kind",…payload fields}
//!   SEGMENT {"type":"segment","file","segment","len","header","error","records","first_lsn","last_lsn","end","damage"}
//! dump-vlog         {"records":[VRECORD],"segments":[VSEGMENT]}; ndjson likewise
//!   VRECORD {"type":"record","file","segment","offset","length","crc32c","lsn","key","value"}
//! ```

use std::io::Write;
use std::path::Path;

use jubilant_engine::storage::Storage;
use jubilant_engine::validate::dir::DirState;
use jubilant_engine::validate::inspect::{PageContent, RawField, manifest_view, page_view, superblocks_view};
use jubilant_engine::validate::{Hints, scan_vlog, scan_wal};
use jubilant_format::PageId;
use jubilant_format::view::display_bytes;
use jubilant_format::wal::{PutValue, TxnWrite, WalPayload};
use serde_json::{Map, Value, json};

use super::args::DumpFormat;
use super::values::Values;
use super::{OfflineError, write_json};
use crate::exit::fsck;

/// The output form: `--format`, else `--json`, else human.
#[must_use]
pub fn format_of(format: Option<DumpFormat>, json: bool) -> DumpFormat {
    format.unwrap_or(if json { DumpFormat::Json } else { DumpFormat::Human })
}

fn fields_line(fields: &[RawField]) -> String {
    fields.iter().map(|f| format!("{} {}", f.name, f.value)).collect::<Vec<_>>().join(", ")
}

/// `dump-manifest`.
pub fn manifest(storage: &dyn Storage, dir: &Path, json: bool, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let view = manifest_view(storage, dir)?;
    if json {
        write_json(out, &view)?;
    } else {
        writeln!(out, "MANIFEST: {} bytes, manifest hash {}", view.len, view.manifest_hash)?;
        writeln!(out, "  envelope   {}", fields_line(&view.envelope))?;
        if let Some(m) = &view.manifest {
            writeln!(out, "  format_version         {}", m.format_version)?;
            writeln!(out, "  schema_hash            {:#018x}", m.schema_hash)?;
            writeln!(out, "  checksum_algorithm     {}", m.checksum_algorithm)?;
            writeln!(out, "  page_size              {}", m.page_size.get())?;
            writeln!(out, "  clock_wall_unix_nanos  {}", m.clock.wall_unix_nanos)?;
            writeln!(out, "  clock_monotonic_nanos  {}", m.clock.monotonic_nanos)?;
            writeln!(out, "  created_by             {}", m.created_by)?;
            writeln!(out, "  directory_id           {:#018x}", m.directory_id)?;
        }
        if let Some(e) = &view.error {
            writeln!(out, "  invalid: {e}")?;
        }
        if let Some(e) = &view.incompatible {
            writeln!(out, "  this build cannot open it: {e}")?;
        }
    }
    Ok(if view.error.is_some() || view.incompatible.is_some() { fsck::UNCORRECTED } else { fsck::CLEAN })
}

/// `dump-superblocks`.
pub fn superblocks(storage: &dyn Storage, dir: &Path, json: bool, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let view = superblocks_view(storage, dir)?;
    if json {
        write_json(out, &view)?;
    } else {
        let current = view.current.map_or_else(|| "none valid".to_owned(), |c| format!("slot {c}"));
        writeln!(out, "superblocks (page size {}): current {current}", view.page_size)?;
        for slot in &view.slots {
            writeln!(out, "slot {} at offset {}: {}", slot.slot, slot.offset, slot.state)?;
            if let Some(e) = &slot.error {
                writeln!(out, "  error: {e}")?;
            }
            if slot.state != "zeroed" {
                for f in &slot.fields {
                    writeln!(out, "  {:<18} {}", f.name, f.value)?;
                }
            }
        }
    }
    Ok(if view.slots.iter().any(|s| s.state == "invalid") || view.current.is_none() {
        fsck::UNCORRECTED
    } else {
        fsck::CLEAN
    })
}

/// `dump-page`.
pub fn page(
    storage: &dyn Storage,
    dir: &Path,
    page: u64,
    hex: bool,
    values: Values,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8, OfflineError> {
    let Some(view) = page_view(storage, dir, PageId(page))? else {
        return Err(OfflineError::Usage(format!("page {page} lies past the end of {}/pages.jdb", dir.display())));
    };
    let content = content_json(&view.content, values);
    let damaged = matches!(view.content, PageContent::Undecodable { .. });
    if json {
        let mut doc = match serde_json::to_value(&view) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        doc.insert("content".into(), content);
        doc.insert("hex".into(), if hex { json!(hex_lines(&view.raw)) } else { Value::Null });
        write_json(out, &Value::Object(doc))?;
        return Ok(if damaged { fsck::UNCORRECTED } else { fsck::CLEAN });
    }
    writeln!(out, "page {} of pages.jdb (offset {}, page size {})", view.page, view.offset, view.page_size)?;
    writeln!(out, "  header   {}", fields_line(&view.header_fields))?;
    match &view.content {
        PageContent::Superblock => writeln!(out, "  a superblock page: see `jubectl dump-superblocks`")?,
        PageContent::Undecodable { reason } => writeln!(out, "  invalid: {reason}")?,
        PageContent::Overflow => writeln!(out, "  an overflow page")?,
        PageContent::Leaf { entries } => {
            writeln!(out, "  leaf with {} entries", entries.len())?;
            for e in entries {
                let value = match (&e.value, &e.value_ref) {
                    (Some(v), _) => values.text(v),
                    (None, Some(r)) => {
                        format!("-> vlog segment {} offset {} ({} bytes)", r.segment, r.offset, r.length)
                    }
                    (None, None) => String::new(),
                };
                let expiry = e.expires_at_unix_ms.map_or_else(String::new, |t| format!("  expires {t}"));
                writeln!(out, "    {}  version {}{expiry}  {value}", display_bytes(&e.key), e.version)?;
            }
        }
        PageContent::Branch { children, separators } => {
            writeln!(out, "  branch with {} children", children.len())?;
            for (i, child) in children.iter().enumerate() {
                match i.checked_sub(1).and_then(|s| separators.get(s)) {
                    Some(sep) => writeln!(out, "    [{}..  -> page {child}", display_bytes(sep))?,
                    None => writeln!(out, "    [low fence..  -> page {child}")?,
                }
            }
        }
        PageContent::FreeList { next, pages } => {
            writeln!(out, "  free-list page: next {next}, {} free pages", pages.len())?;
            for chunk in pages.chunks(16) {
                writeln!(out, "    {}", chunk.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))?;
            }
        }
    }
    if hex {
        for line in hex_lines(&view.raw) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(if damaged { fsck::UNCORRECTED } else { fsck::CLEAN })
}

fn content_json(content: &PageContent, values: Values) -> Value {
    match content {
        PageContent::Leaf { entries } => json!({
            "type": "leaf",
            "entries": entries.iter().map(|e| json!({
                "key": display_bytes(&e.key),
                "value": e.value.as_deref().map(|v| values.json(v)),
                "value_ref": e.value_ref,
                "version": e.version,
                "expires_at_unix_ms": e.expires_at_unix_ms,
            })).collect::<Vec<_>>(),
        }),
        PageContent::Branch { children, separators } => json!({
            "type": "branch",
            "children": children,
            "separators": separators.iter().map(|s| display_bytes(s)).collect::<Vec<_>>(),
        }),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

/// `hexdump -C` style lines; runs of identical lines fold into `*`.
fn hex_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut previous: Option<&[u8]> = None;
    let mut folded = false;
    for (i, chunk) in bytes.chunks(16).enumerate() {
        if previous == Some(chunk) {
            if !folded {
                lines.push("*".to_owned());
                folded = true;
            }
            continue;
        }
        folded = false;
        previous = Some(chunk);
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }).collect();
        lines.push(format!("{:08x}  {:<47}  |{text}|", i * 16, hex.join(" ")));
    }
    lines.push(format!("{:08x}", bytes.len()));
    lines
}

/// Arguments of `dump-wal`.
#[derive(Debug, Clone, Copy)]
pub struct WalArgs {
    /// First LSN shown.
    pub from_lsn: Option<u64>,
    /// Most records shown.
    pub limit: Option<u64>,
    /// Output form.
    pub format: DumpFormat,
    /// Redaction.
    pub values: Values,
}

/// Writes records as they come; remembers the first write error.
struct Stream<'o> {
    out: &'o mut dyn Write,
    format: DumpFormat,
    collected: Vec<Value>,
    error: Option<std::io::Error>,
    shown: u64,
}

impl Stream<'_> {
    fn emit(&mut self, item: Value, human: impl FnOnce() -> String) {
        if self.error.is_some() {
            return;
        }
        let result = match self.format {
            DumpFormat::Json => {
                self.collected.push(item);
                Ok(())
            }
            DumpFormat::Ndjson => serde_json::to_writer(&mut *self.out, &item)
                .map_err(std::io::Error::from)
                .and_then(|()| self.out.write_all(b"\n")),
            DumpFormat::Human => writeln!(self.out, "{}", human()),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn finish(self, segments: Vec<Value>, human_segments: Vec<String>) -> Result<(), OfflineError> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        match self.format {
            DumpFormat::Json => write_json(self.out, &json!({ "records": self.collected, "segments": segments })),
            DumpFormat::Ndjson => {
                for s in segments {
                    write_json(self.out, &s)?;
                }
                Ok(())
            }
            DumpFormat::Human => {
                for line in human_segments {
                    writeln!(self.out, "{line}")?;
                }
                Ok(())
            }
        }
    }
}

fn payload_fields(payload: &WalPayload, values: Values) -> (Map<String, Value>, String) {
    let mut m = Map::new();
    let text = match payload {
        WalPayload::Begin { txn } => {
            m.insert("kind".into(), json!("begin"));
            m.insert("txn".into(), json!(txn));
            format!("begin txn {txn}")
        }
        WalPayload::Put { txn, key, value, expires_at_unix_ms } => {
            m.insert("kind".into(), json!("put"));
            m.insert("txn".into(), json!(txn));
            let text = put_fields(&mut m, key, value, *expires_at_unix_ms, values);
            format!("put txn {txn} {text}")
        }
        WalPayload::Delete { txn, key } => {
            m.insert("kind".into(), json!("delete"));
            m.insert("txn".into(), json!(txn));
            m.insert("key".into(), json!(display_bytes(key)));
            format!("delete txn {txn} {}", display_bytes(key))
        }
        WalPayload::Commit { txn, commit_unix_ms, durable_lsn } => {
            m.insert("kind".into(), json!("commit"));
            m.insert("txn".into(), json!(txn));
            m.insert("commit_unix_ms".into(), json!(commit_unix_ms));
            m.insert("durable_lsn".into(), json!(durable_lsn));
            format!("commit txn {txn} at {commit_unix_ms} ms, durable LSN {durable_lsn}")
        }
        WalPayload::Abort { txn } => {
            m.insert("kind".into(), json!("abort"));
            m.insert("txn".into(), json!(txn));
            format!("abort txn {txn}")
        }
        WalPayload::Checkpoint { checkpoint_lsn, generation } => {
            m.insert("kind".into(), json!("checkpoint"));
            m.insert("checkpoint_lsn".into(), json!(checkpoint_lsn));
            m.insert("generation".into(), json!(generation));
            format!("checkpoint LSN {checkpoint_lsn} generation {generation}")
        }
        WalPayload::TtlTombstone { txn, key, expired_at_unix_ms } => {
            m.insert("kind".into(), json!("ttl_tombstone"));
            m.insert("txn".into(), json!(txn));
            m.insert("key".into(), json!(display_bytes(key)));
            m.insert("expired_at_unix_ms".into(), json!(expired_at_unix_ms));
            format!("ttl_tombstone txn {txn} {} expired {expired_at_unix_ms}", display_bytes(key))
        }
        WalPayload::Txn { txn, commit_unix_ms, durable_lsn, writes } => {
            m.insert("kind".into(), json!("txn"));
            m.insert("txn".into(), json!(txn));
            m.insert("commit_unix_ms".into(), json!(commit_unix_ms));
            m.insert("durable_lsn".into(), json!(durable_lsn));
            let mut texts = Vec::with_capacity(writes.len());
            let writes: Vec<Value> = writes
                .iter()
                .map(|w| {
                    let mut wm = Map::new();
                    let text = match w {
                        TxnWrite::Put { key, value, expires_at_unix_ms } => {
                            wm.insert("kind".into(), json!("put"));
                            format!("put {}", put_fields(&mut wm, key, value, *expires_at_unix_ms, values))
                        }
                        TxnWrite::Delete { key } => {
                            wm.insert("kind".into(), json!("delete"));
                            wm.insert("key".into(), json!(display_bytes(key)));
                            format!("delete {}", display_bytes(key))
                        }
                        TxnWrite::TtlTombstone { key, expired_at_unix_ms } => {
                            wm.insert("kind".into(), json!("ttl_tombstone"));
                            wm.insert("key".into(), json!(display_bytes(key)));
                            wm.insert("expired_at_unix_ms".into(), json!(expired_at_unix_ms));
                            format!("ttl_tombstone {} expired {expired_at_unix_ms}", display_bytes(key))
                        }
                    };
                    texts.push(text);
                    Value::Object(wm)
                })
                .collect();
            m.insert("writes".into(), Value::Array(writes));
            // One write per line, indented under the record's line.
            format!(
                "txn {txn} at {commit_unix_ms} ms, durable LSN {durable_lsn}, {} write(s):\n    {}",
                texts.len(),
                texts.join("\n    ")
            )
        }
    };
    (m, text)
}

/// The fields of a put (key, value or its reference, expiry) into `m`;
/// returns their text form.
fn put_fields(
    m: &mut Map<String, Value>,
    key: &[u8],
    value: &PutValue,
    expires_at_unix_ms: Option<u64>,
    values: Values,
) -> String {
    m.insert("key".into(), json!(display_bytes(key)));
    let (value_json, value_text) = match value {
        PutValue::Inline(v) => (values.json(v), values.text(v)),
        PutValue::Ref(r) => {
            (Value::Null, format!("-> vlog segment {} offset {} ({} bytes)", r.segment, r.offset, r.length))
        }
    };
    m.insert("value".into(), value_json);
    m.insert(
        "value_ref".into(),
        match value {
            PutValue::Ref(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            PutValue::Inline(_) => Value::Null,
        },
    );
    m.insert("expires_at_unix_ms".into(), json!(expires_at_unix_ms));
    let expiry = expires_at_unix_ms.map_or_else(String::new, |t| format!(" expires {t}"));
    format!("{} {value_text}{expiry}", display_bytes(key))
}

/// `{"offset","reason",…}`: where a log ends and why, flat.
fn end_json(end: jubilant_format::LogEnd) -> Value {
    let mut m = match serde_json::to_value(end.reason) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.insert("offset".into(), json!(end.offset));
    Value::Object(m)
}

/// `dump-wal`.
pub fn wal(storage: &dyn Storage, dir: &Path, args: &WalArgs, out: &mut dyn Write) -> Result<u8, OfflineError> {
    let state = DirState::load(storage, dir)?;
    let checkpoint = state.current().map(|(_, sb)| sb.checkpoint_lsn);
    let hints = Hints::new(dir);
    let mut stream = Stream { out, format: args.format, collected: Vec::new(), error: None, shown: 0 };
    let from = args.from_lsn.unwrap_or(0);
    let limit = args.limit.unwrap_or(u64::MAX);
    let scan = scan_wal(
        storage,
        dir,
        state.directory_id(),
        checkpoint,
        false,
        &hints,
        &mut |_| {},
        &mut |seg, record, payload| {
            if record.lsn.get() < from || stream.shown >= limit {
                return;
            }
            stream.shown += 1;
            let (mut item, text) = match payload {
                Ok(p) => payload_fields(p, args.values),
                Err(e) => {
                    let mut m = Map::new();
                    m.insert("kind".into(), json!("invalid"));
                    m.insert("error".into(), json!(e.to_string()));
                    (m, format!("invalid payload: {e}"))
                }
            };
            let mut head = Map::new();
            head.insert("type".into(), json!("record"));
            head.insert("file".into(), json!(seg.name));
            head.insert("segment".into(), json!(seg.id));
            head.insert("offset".into(), json!(record.offset));
            head.insert("lsn".into(), json!(record.lsn));
            head.insert("epoch".into(), json!(record.epoch));
            head.insert("len".into(), json!(record.payload.len()));
            head.append(&mut item);
            let line = format!("{}  offset {:>8}  LSN {:>8}  {text}", seg.name, record.offset, record.lsn.get());
            stream.emit(Value::Object(head), || line);
        },
    )?;
    let mut damaged = false;
    let mut segments = Vec::new();
    let mut human = Vec::new();
    for s in &scan.segments {
        damaged |= s.damage.is_some() || s.header.is_err();
        segments.push(json!({
            "type": "segment",
            "file": s.name,
            "segment": s.id,
            "len": s.len,
            "header": s.header.as_ref().ok(),
            "error": s.header.as_ref().err().map(ToString::to_string),
            "records": s.records,
            "first_lsn": s.first_lsn,
            "last_lsn": s.last_lsn,
            "end": s.end.map(end_json),
            "damage": s.damage,
        }));
        let state = match (&s.header, &s.damage, &s.end) {
            (Err(e), _, _) => format!("invalid header: {e}"),
            (Ok(_), Some(d), _) => {
                format!("damage at offset {} where LSN {} was due: {}", d.offset, d.expected_lsn, d.error)
            }
            (Ok(_), None, Some(end)) => format!("ends at offset {}", end.offset),
            (Ok(_), None, None) => String::new(),
        };
        human.push(format!(
            "segment {} ({}): {} bytes, {} records, LSN {}..{}: {state}",
            s.id,
            s.name,
            s.len,
            s.records,
            s.first_lsn.map_or_else(|| "-".into(), |l| l.to_string()),
            s.last_lsn.map_or_else(|| "-".into(), |l| l.to_string()),
        ));
    }
    stream.finish(segments, human)?;
    Ok(if damaged { fsck::UNCORRECTED } else { fsck::CLEAN })
}

/// `dump-vlog`.
pub fn vlog(
    storage: &dyn Storage,
    dir: &Path,
    segment: Option<u64>,
    format: DumpFormat,
    values: Values,
    out: &mut dyn Write,
) -> Result<u8, OfflineError> {
    let state = DirState::load(storage, dir)?;
    let hints = Hints::new(dir);
    let mut stream = Stream { out, format, collected: Vec::new(), error: None, shown: 0 };
    let scan = scan_vlog(storage, dir, state.directory_id(), &hints, &mut |_| {}, &mut |seg, record| {
        if segment.is_some_and(|s| s != seg.id.get()) {
            return;
        }
        let item = json!({
            "type": "record",
            "file": seg.name,
            "segment": seg.id,
            "offset": record.offset,
            "length": record.length,
            "crc32c": format!("{:#010x}", record.crc),
            "lsn": record.lsn,
            "key": display_bytes(record.key),
            "value": values.json(record.value),
        });
        let line = format!(
            "{}  offset {:>8}  LSN {:>8}  {}  {}",
            seg.name,
            record.offset,
            record.lsn.get(),
            display_bytes(record.key),
            values.text(record.value)
        );
        stream.emit(item, || line);
    })?;
    let mut damaged = false;
    let mut segments = Vec::new();
    let mut human = Vec::new();
    for s in scan.segments.iter().filter(|s| segment.is_none_or(|n| n == s.id.get())) {
        damaged |= s.damage.is_some() || s.header.is_err();
        segments.push(json!({
            "type": "segment",
            "file": s.name,
            "segment": s.id,
            "len": s.len,
            "header": s.header.as_ref().ok(),
            "error": s.header.as_ref().err().map(ToString::to_string),
            "records": s.records,
            "end": s.end.map(end_json),
            "damage": s.damage,
        }));
        human.push(format!("segment {} ({}): {} bytes, {} records", s.id, s.name, s.len, s.records));
    }
    if let Some(n) = segment
        && segments.is_empty()
    {
        return Err(OfflineError::Usage(format!("no value-log segment {n} in {}", dir.display())));
    }
    stream.finish(segments, human)?;
    Ok(if damaged { fsck::UNCORRECTED } else { fsck::CLEAN })
}
