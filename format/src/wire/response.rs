//! Responses, server to client: owned types and their FlatBuffers encoding.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};
use serde::Serialize;

use crate::error::{Error, Result, Structure};
use crate::generated::wire as fb;
use crate::wire::error_code::ErrorCode;
use crate::wire::limits::WireLimits;

/// One response frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The id of the request this answers; 0 for a connection-level error
    /// sent before closing (oversized frame, too many connections).
    pub id: u64,
    /// The answer.
    pub body: ResponseBody,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseBody {
    /// A committed transaction's results.
    Txn(TxnResult),
    /// The request failed.
    Error(WireError),
    /// Authentication succeeded.
    Auth {
        /// The token's role: "read", "write" or "admin".
        role: String,
    },
    /// The answer to a ping.
    Pong {
        /// The ping's payload.
        #[serde(serialize_with = "crate::view::bytes")]
        payload: Vec<u8>,
    },
    /// Statistics and settings, as (name, value) pairs in server order.
    Info(Vec<(String, String)>),
    /// A checkpoint completed.
    Checkpoint {
        /// Every record up to this LSN is in the checkpointed tree.
        checkpoint_lsn: u64,
        /// The superblock generation written.
        generation: u64,
    },
    /// The configuration was re-read.
    ConfigReload {
        /// Settings that changed and took effect.
        applied: Vec<String>,
        /// Settings that changed but need a restart; they kept their old
        /// value.
        needs_restart: Vec<String>,
    },
}

/// The outcome of a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxnResult {
    /// One result per operation, in request order.
    pub results: Vec<OpResult>,
    /// LSN of the commit record; 0 for a read-only transaction.
    pub commit_version: u64,
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// The pair read; `None` when the key does not exist.
    Get(Option<KeyValue>),
    /// The key was written.
    Set,
    /// The key was removed.
    Del {
        /// Whether the key existed before.
        existed: bool,
    },
    /// The assert held.
    Assert,
    /// The pairs scanned, in scan order.
    Scan {
        /// The pairs.
        items: Vec<KeyValue>,
        /// Whether the limit cut the scan short.
        truncated: bool,
    },
}

/// A key/value pair with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// The key.
    #[serde(serialize_with = "crate::view::bytes")]
    pub key: Vec<u8>,
    /// The value.
    #[serde(serialize_with = "crate::view::bytes")]
    pub value: Vec<u8>,
    /// LSN of the pair's last write.
    pub version: u64,
    /// Absolute expiry, milliseconds since the Unix epoch; `None` never
    /// expires (0 on the wire, so `Some(0)` encodes as `None`).
    pub expires_at_unix_ms: Option<u64>,
}

/// A key/value pair borrowed in place: what
/// [`laid::get_frame`](super::laid::get_frame) encodes without copying it
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyValueRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// LSN of the pair's last write.
    pub version: u64,
    /// Absolute expiry, as in [`KeyValue::expires_at_unix_ms`].
    pub expires_at_unix_ms: Option<u64>,
}

impl KeyValue {
    /// The pair, borrowed.
    #[must_use]
    pub fn as_ref(&self) -> KeyValueRef<'_> {
        KeyValueRef {
            key: &self.key,
            value: &self.value,
            version: self.version,
            expires_at_unix_ms: self.expires_at_unix_ms,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireError {
    /// The kind of failure.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// Index of the operation that failed (a failed ASSERT); -1 on the
    /// wire for none. At most `i32::MAX`.
    pub op_index: Option<u32>,
    /// Whether the client may retry the request unchanged.
    pub retryable: bool,
}

impl WireError {
    /// An error not tied to one operation, retryable as
    /// [`ErrorCode::default_retryable`] says.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError { code, message: message.into(), op_index: None, retryable: code.default_retryable() }
    }
}

impl Response {
    /// Encodes the response into `fbb` (which is reset first) and returns
    /// the finished bytes, without length prefix (see
    /// [`encode_frame`](super::encode_frame)).
    ///
    /// # Panics
    ///
    /// If an [`WireError::op_index`] exceeds `i32::MAX`: no transaction
    /// within [`WireLimits`] has that many operations.
    pub fn encode_with<'b>(&self, fbb: &'b mut FlatBufferBuilder<'_>) -> &'b [u8] {
        fbb.reset();
        let (body_type, body) = build_body(&self.body, fbb);
        let root = fb::Response::create(fbb, &fb::ResponseArgs { id: self.id, body_type, body: Some(body) });
        fbb.finish_minimal(root);
        fbb.finished_data()
    }

    /// Encodes the response into a new buffer, without length prefix.
    ///
    /// # Panics
    ///
    /// As [`Response::encode_with`].
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        self.encode_with(&mut fbb).to_vec()
    }
}

fn build_body<'a>(
    body: &ResponseBody,
    fbb: &mut FlatBufferBuilder<'a>,
) -> (fb::ResponseBody, WIPOffset<UnionWIPOffset>) {
    match body {
        ResponseBody::Txn(txn) => {
            let results: Vec<WIPOffset<fb::TxnOpResult<'a>>> = txn
                .results
                .iter()
                .map(|result| {
                    let (result_type, result) = build_op_result(result, fbb);
                    fb::TxnOpResult::create(fbb, &fb::TxnOpResultArgs { result_type, result: Some(result) })
                })
                .collect();
            let results = fbb.create_vector(&results);
            let t = fb::TxnResult::create(
                fbb,
                &fb::TxnResultArgs { results: Some(results), commit_version: txn.commit_version },
            );
            (fb::ResponseBody::TxnResult, t.as_union_value())
        }
        ResponseBody::Error(error) => {
            let op_index = match error.op_index {
                None => -1,
                Some(index) => {
                    let Ok(index) = i32::try_from(index) else {
                        panic!("op_index {index} does not fit the wire's int32");
                    };
                    index
                }
            };
            let message = fbb.create_string(&error.message);
            let t = fb::Error::create(
                fbb,
                &fb::ErrorArgs {
                    code: fb::ErrorCode(error.code.as_u16()),
                    message: Some(message),
                    op_index,
                    retryable: error.retryable,
                },
            );
            (fb::ResponseBody::Error, t.as_union_value())
        }
        ResponseBody::Auth { role } => {
            let role = fbb.create_string(role);
            let t = fb::AuthResult::create(fbb, &fb::AuthResultArgs { role: Some(role) });
            (fb::ResponseBody::AuthResult, t.as_union_value())
        }
        ResponseBody::Pong { payload } => {
            let payload = fbb.create_vector(payload);
            let t = fb::Pong::create(fbb, &fb::PongArgs { payload: Some(payload) });
            (fb::ResponseBody::Pong, t.as_union_value())
        }
        ResponseBody::Info(entries) => {
            let entries: Vec<WIPOffset<fb::InfoEntry<'a>>> = entries
                .iter()
                .map(|(key, value)| {
                    let key = fbb.create_string(key);
                    let value = fbb.create_string(value);
                    fb::InfoEntry::create(fbb, &fb::InfoEntryArgs { key: Some(key), value: Some(value) })
                })
                .collect();
            let entries = fbb.create_vector(&entries);
            let t = fb::InfoResult::create(fbb, &fb::InfoResultArgs { entries: Some(entries) });
            (fb::ResponseBody::InfoResult, t.as_union_value())
        }
        ResponseBody::Checkpoint { checkpoint_lsn, generation } => {
            let t = fb::CheckpointResult::create(
                fbb,
                &fb::CheckpointResultArgs { checkpoint_lsn: *checkpoint_lsn, generation: *generation },
            );
            (fb::ResponseBody::CheckpointResult, t.as_union_value())
        }
        ResponseBody::ConfigReload { applied, needs_restart } => {
            let applied = build_strings(applied, fbb);
            let needs_restart = build_strings(needs_restart, fbb);
            let t = fb::ConfigReloadResult::create(
                fbb,
                &fb::ConfigReloadResultArgs { applied: Some(applied), needs_restart: Some(needs_restart) },
            );
            (fb::ResponseBody::ConfigReloadResult, t.as_union_value())
        }
    }
}

fn build_strings<'a>(
    strings: &[String],
    fbb: &mut FlatBufferBuilder<'a>,
) -> WIPOffset<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<&'a str>>> {
    let strings: Vec<WIPOffset<&str>> = strings.iter().map(|s| fbb.create_string(s)).collect();
    fbb.create_vector(&strings)
}

fn build_key_value<'a>(kv: KeyValueRef<'_>, fbb: &mut FlatBufferBuilder<'a>) -> WIPOffset<fb::KeyValue<'a>> {
    let key = fbb.create_vector(kv.key);
    let value = fbb.create_vector(kv.value);
    fb::KeyValue::create(
        fbb,
        &fb::KeyValueArgs {
            key: Some(key),
            value: Some(value),
            version: kv.version,
            expires_at_unix_ms: kv.expires_at_unix_ms.unwrap_or(0),
        },
    )
}

fn build_op_result(result: &OpResult, fbb: &mut FlatBufferBuilder<'_>) -> (fb::OpResult, WIPOffset<UnionWIPOffset>) {
    match result {
        OpResult::Get(item) => {
            let item = item.as_ref().map(|kv| build_key_value(kv.as_ref(), fbb));
            let t = fb::GetResult::create(fbb, &fb::GetResultArgs { item });
            (fb::OpResult::GetResult, t.as_union_value())
        }
        OpResult::Set => {
            let t = fb::SetResult::create(fbb, &fb::SetResultArgs {});
            (fb::OpResult::SetResult, t.as_union_value())
        }
        OpResult::Del { existed } => {
            let t = fb::DelResult::create(fbb, &fb::DelResultArgs { existed: *existed });
            (fb::OpResult::DelResult, t.as_union_value())
        }
        OpResult::Assert => {
            let t = fb::AssertResult::create(fbb, &fb::AssertResultArgs {});
            (fb::OpResult::AssertResult, t.as_union_value())
        }
        OpResult::Scan { items, truncated } => {
            let items: Vec<_> = items.iter().map(|kv| build_key_value(kv.as_ref(), fbb)).collect();
            let items = fbb.create_vector(&items);
            let t = fb::ScanResult::create(fbb, &fb::ScanResultArgs { items: Some(items), truncated: *truncated });
            (fb::OpResult::ScanResult, t.as_union_value())
        }
    }
}

fn content(reason: String) -> Error {
    Error::InvalidContent { structure: Structure::WireResponse, reason }
}

fn unknown_tag(field: &'static str, tag: u8) -> Error {
    Error::UnknownUnionTag { structure: Structure::WireResponse, field, tag }
}

/// Verifies and decodes one response frame body (without length prefix).
///
/// An error code this build does not know decodes as
/// [`ErrorCode::Unknown`], not as a failure.
///
/// # Errors
///
/// - [`Error::FrameTooLarge`] if `buf` exceeds `limits.max_frame`.
/// - [`Error::InvalidFlatbuffer`] if `buf` is not a valid `Response`
///   FlatBuffer within `limits`.
/// - [`Error::InvalidContent`] if it has no body or an invalid field (an
///   `op_index` below -1).
/// - [`Error::UnknownUnionTag`] for a body or result tag this build does
///   not know.
pub fn decode_response(buf: &[u8], limits: &WireLimits) -> Result<Response> {
    limits.check_frame(buf)?;
    let response = flatbuffers::root_with_opts::<fb::Response>(&limits.verifier_options(), buf).map_err(|e| {
        Error::InvalidFlatbuffer {
            structure: Structure::WireResponse,
            offset: 0,
            reason: e.to_string().trim_end().to_owned(),
        }
    })?;
    let missing = || content(format!("{:?} body table missing", response.body_type()));
    let body = match response.body_type() {
        fb::ResponseBody::NONE => return Err(content("response has no body".to_owned())),
        fb::ResponseBody::TxnResult => {
            let txn = response.body_as_txn_result().ok_or_else(missing)?;
            let results = txn
                .results()
                .iter()
                .enumerate()
                .map(|(index, result)| decode_op_result(index, result))
                .collect::<Result<Vec<_>>>()?;
            ResponseBody::Txn(TxnResult { results, commit_version: txn.commit_version() })
        }
        fb::ResponseBody::Error => {
            let error = response.body_as_error().ok_or_else(missing)?;
            let op_index = match error.op_index() {
                -1 => None,
                index => Some(
                    u32::try_from(index)
                        .map_err(|_| content(format!("error op_index is {index}, expected -1 or an index")))?,
                ),
            };
            ResponseBody::Error(WireError {
                code: ErrorCode::from_u16(error.code().0),
                message: error.message().to_owned(),
                op_index,
                retryable: error.retryable(),
            })
        }
        fb::ResponseBody::AuthResult => {
            let auth = response.body_as_auth_result().ok_or_else(missing)?;
            ResponseBody::Auth { role: auth.role().to_owned() }
        }
        fb::ResponseBody::Pong => {
            let pong = response.body_as_pong().ok_or_else(missing)?;
            ResponseBody::Pong { payload: pong.payload().map(|p| p.bytes().to_vec()).unwrap_or_default() }
        }
        fb::ResponseBody::InfoResult => {
            let info = response.body_as_info_result().ok_or_else(missing)?;
            let entries = info.entries().iter().map(|e| (e.key().to_owned(), e.value().to_owned())).collect();
            ResponseBody::Info(entries)
        }
        fb::ResponseBody::CheckpointResult => {
            let checkpoint = response.body_as_checkpoint_result().ok_or_else(missing)?;
            ResponseBody::Checkpoint {
                checkpoint_lsn: checkpoint.checkpoint_lsn(),
                generation: checkpoint.generation(),
            }
        }
        fb::ResponseBody::ConfigReloadResult => {
            let reload = response.body_as_config_reload_result().ok_or_else(missing)?;
            let strings = |v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<&str>>>| {
                v.map(|v| v.iter().map(str::to_owned).collect()).unwrap_or_default()
            };
            ResponseBody::ConfigReload {
                applied: strings(reload.applied()),
                needs_restart: strings(reload.needs_restart()),
            }
        }
        other => return Err(unknown_tag("body", other.0)),
    };
    Ok(Response { id: response.id(), body })
}

/// Decodes result `index` of a transaction.
fn decode_op_result(index: usize, result: fb::TxnOpResult<'_>) -> Result<OpResult> {
    let missing = || content(format!("result {index}: {:?} table missing", result.result_type()));
    let decoded = match result.result_type() {
        fb::OpResult::NONE => return Err(content(format!("result {index}: no result"))),
        fb::OpResult::GetResult => {
            let get = result.result_as_get_result().ok_or_else(missing)?;
            OpResult::Get(get.item().map(decode_key_value))
        }
        fb::OpResult::SetResult => {
            result.result_as_set_result().ok_or_else(missing)?;
            OpResult::Set
        }
        fb::OpResult::DelResult => {
            let del = result.result_as_del_result().ok_or_else(missing)?;
            OpResult::Del { existed: del.existed() }
        }
        fb::OpResult::AssertResult => {
            result.result_as_assert_result().ok_or_else(missing)?;
            OpResult::Assert
        }
        fb::OpResult::ScanResult => {
            let scan = result.result_as_scan_result().ok_or_else(missing)?;
            OpResult::Scan { items: scan.items().iter().map(decode_key_value).collect(), truncated: scan.truncated() }
        }
        other => return Err(unknown_tag("result", other.0)),
    };
    Ok(decoded)
}

fn decode_key_value(kv: fb::KeyValue<'_>) -> KeyValue {
    let expires = kv.expires_at_unix_ms();
    KeyValue {
        key: kv.key().bytes().to_vec(),
        value: kv.value().bytes().to_vec(),
        version: kv.version(),
        expires_at_unix_ms: (expires != 0).then_some(expires),
    }
}
