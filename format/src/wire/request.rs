//! Requests, client to server: owned types and their FlatBuffers encoding.
//!
//! Decoding is strict about what this build knows and precise about the
//! rest: a field combination the schema does not allow is malformed, a
//! union tag from a newer schema is unsupported, and both carry the
//! request id once the buffer has been verified.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::generated::wire as fb;
use crate::wire::limits::WireLimits;

/// One request frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Chosen by the client and echoed in the response, so several
    /// requests may be in flight on one connection.
    pub id: u64,
    /// What is asked.
    pub body: RequestBody,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestBody {
    /// A transaction: operations executed in order, committed atomically.
    Txn(Vec<Op>),
    /// Authenticate this connection with an API token.
    Auth {
        /// The API token.
        token: String,
    },
    /// Liveness check; the response echoes `payload`.
    Ping {
        /// Bytes to echo.
        #[serde(serialize_with = "crate::view::bytes")]
        payload: Vec<u8>,
    },
    /// Ask for server and engine statistics.
    Info,
    /// Ask for a checkpoint to be completed before the response.
    Checkpoint,
    /// Ask the server to re-read its configuration file.
    ConfigReload,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Read one key.
    Get {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
    },
    /// Write one key.
    Set {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// The value.
        #[serde(serialize_with = "crate::view::bytes")]
        value: Vec<u8>,
        /// Expire this many milliseconds after commit; `None` never
        /// expires (0 on the wire, so `Some(0)` encodes as `None`).
        ttl_ms: Option<u64>,
    },
    /// Remove one key.
    Del {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
    },
    /// A guard: if it does not hold, the whole transaction aborts.
    Assert {
        /// The key.
        #[serde(serialize_with = "crate::view::bytes")]
        key: Vec<u8>,
        /// What must hold.
        condition: AssertCondition,
    },
    /// Read the keys in `[start, end)`.
    Scan {
        /// First key (inclusive); `None` is the first key of the store.
        #[serde(serialize_with = "super::option_bytes")]
        start: Option<Vec<u8>>,
        /// Last key (exclusive); `None` is past the last key.
        #[serde(serialize_with = "super::option_bytes")]
        end: Option<Vec<u8>>,
        /// Most pairs returned; 0 is the server's maximum.
        limit: u32,
        /// Descending order, from `end` down to `start`.
        reverse: bool,
    },
}

/// What an [`Op::Assert`] requires of its key, in the transaction's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertCondition {
    /// The key exists.
    Exists,
    /// The key does not exist.
    Absent,
    /// The key exists and its value equals these bytes.
    ValueEquals(#[serde(serialize_with = "crate::view::bytes")] Vec<u8>),
    /// The key's version (LSN of its last write) equals this; 0 means
    /// the key is absent.
    VersionEquals(u64),
}

impl Request {
    /// Encodes the request into `fbb` (which is reset first) and returns
    /// the finished bytes, without length prefix (see
    /// [`encode_frame`](super::encode_frame)). Reusing one builder avoids
    /// an allocation per request.
    pub fn encode_with<'b>(&self, fbb: &'b mut FlatBufferBuilder<'_>) -> &'b [u8] {
        fbb.reset();
        let (body_type, body) = build_body(&self.body, fbb);
        let root = fb::Request::create(fbb, &fb::RequestArgs { id: self.id, body_type, body: Some(body) });
        fbb.finish_minimal(root);
        fbb.finished_data()
    }

    /// Encodes the request into a new buffer, without length prefix.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        self.encode_with(&mut fbb).to_vec()
    }
}

fn build_body<'a>(body: &RequestBody, fbb: &mut FlatBufferBuilder<'a>) -> (fb::RequestBody, WIPOffset<UnionWIPOffset>) {
    match body {
        RequestBody::Txn(ops) => {
            let ops: Vec<WIPOffset<fb::TxnOp<'a>>> = ops
                .iter()
                .map(|op| {
                    let (op_type, op) = build_op(op, fbb);
                    fb::TxnOp::create(fbb, &fb::TxnOpArgs { op_type, op: Some(op) })
                })
                .collect();
            let ops = fbb.create_vector(&ops);
            let t = fb::Txn::create(fbb, &fb::TxnArgs { ops: Some(ops) });
            (fb::RequestBody::Txn, t.as_union_value())
        }
        RequestBody::Auth { token } => {
            let token = fbb.create_string(token);
            let t = fb::Auth::create(fbb, &fb::AuthArgs { token: Some(token) });
            (fb::RequestBody::Auth, t.as_union_value())
        }
        RequestBody::Ping { payload } => {
            let payload = fbb.create_vector(payload);
            let t = fb::Ping::create(fbb, &fb::PingArgs { payload: Some(payload) });
            (fb::RequestBody::Ping, t.as_union_value())
        }
        RequestBody::Info => {
            let t = fb::Info::create(fbb, &fb::InfoArgs {});
            (fb::RequestBody::Info, t.as_union_value())
        }
        RequestBody::Checkpoint => {
            let t = fb::Checkpoint::create(fbb, &fb::CheckpointArgs {});
            (fb::RequestBody::Checkpoint, t.as_union_value())
        }
        RequestBody::ConfigReload => {
            let t = fb::ConfigReload::create(fbb, &fb::ConfigReloadArgs {});
            (fb::RequestBody::ConfigReload, t.as_union_value())
        }
    }
}

fn build_op(op: &Op, fbb: &mut FlatBufferBuilder<'_>) -> (fb::Op, WIPOffset<UnionWIPOffset>) {
    match op {
        Op::Get { key } => {
            let key = fbb.create_vector(key);
            let t = fb::Get::create(fbb, &fb::GetArgs { key: Some(key) });
            (fb::Op::Get, t.as_union_value())
        }
        Op::Set { key, value, ttl_ms } => {
            let key = fbb.create_vector(key);
            let value = fbb.create_vector(value);
            let t =
                fb::Set::create(fbb, &fb::SetArgs { key: Some(key), value: Some(value), ttl_ms: ttl_ms.unwrap_or(0) });
            (fb::Op::Set, t.as_union_value())
        }
        Op::Del { key } => {
            let key = fbb.create_vector(key);
            let t = fb::Del::create(fbb, &fb::DelArgs { key: Some(key) });
            (fb::Op::Del, t.as_union_value())
        }
        Op::Assert { key, condition } => {
            let key = fbb.create_vector(key);
            let (kind, value, version) = match condition {
                AssertCondition::Exists => (fb::AssertKind::Exists, None, 0),
                AssertCondition::Absent => (fb::AssertKind::Absent, None, 0),
                AssertCondition::ValueEquals(v) => (fb::AssertKind::ValueEquals, Some(fbb.create_vector(v)), 0),
                AssertCondition::VersionEquals(v) => (fb::AssertKind::VersionEquals, None, *v),
            };
            let t = fb::Assert::create(fbb, &fb::AssertArgs { key: Some(key), kind, value, version });
            (fb::Op::Assert, t.as_union_value())
        }
        Op::Scan { start, end, limit, reverse } => {
            let start = start.as_ref().map(|s| fbb.create_vector(s));
            let end = end.as_ref().map(|e| fbb.create_vector(e));
            let t = fb::Scan::create(fbb, &fb::ScanArgs { start, end, limit: *limit, reverse: *reverse });
            (fb::Op::Scan, t.as_union_value())
        }
    }
}

/// Verifies and decodes one request frame body (without length prefix).
///
/// # Errors
///
/// - [`Error::FrameTooLarge`] if `buf` exceeds `limits.max_frame`.
/// - [`Error::MalformedRequest`] without id if `buf` is not a valid
///   `Request` FlatBuffer within `limits`; with the id if it has no body
///   or holds fields the schema does not allow together.
/// - [`Error::UnsupportedRequest`] with the id if the body or one of its
///   operations has a union tag this build does not know.
pub fn decode_request(buf: &[u8], limits: &WireLimits) -> Result<Request> {
    decode_verified(verify(buf, limits)?)
}

/// A request as [`decode_request_or_get`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'b> {
    /// A transaction of exactly one GET, its key read in place: what
    /// [`decode_request`] decodes to `Op::Get` of this key.
    Get {
        /// The request id.
        id: u64,
        /// The key, borrowed from the buffer.
        key: &'b [u8],
    },
    /// Any other request, decoded in full.
    Request(Request),
}

/// [`decode_request`], except that a transaction of exactly one GET (the
/// most frequent request) comes back with its key borrowed, not copied.
/// The buffer is verified once either way (by the verifier, or, for the
/// shapes [`super::laid`] writes, by matching them byte for byte).
///
/// # Errors
///
/// As [`decode_request`].
pub fn decode_request_or_get<'b>(buf: &'b [u8], limits: &WireLimits) -> Result<Decoded<'b>> {
    // The laid shapes (what this crate's writers send) are recognised byte
    // for byte without the verifier; anything else goes through it.
    limits.check_frame(buf)?;
    if let Some((id, key)) = super::laid::read_get_request(buf) {
        return Ok(Decoded::Get { id, key });
    }
    if let Some((id, key, value, ttl_ms)) = super::laid::read_set_request(buf) {
        let op = Op::Set { key: key.to_vec(), value: value.to_vec(), ttl_ms: (ttl_ms != 0).then_some(ttl_ms) };
        return Ok(Decoded::Request(Request { id, body: RequestBody::Txn(vec![op]) }));
    }
    let request = verify(buf, limits)?;
    if let Some(ops) = request.body_as_txn().map(|t| t.ops())
        && ops.len() == 1
        && let Some(get) = ops.iter().next().and_then(|op| op.op_as_get())
    {
        return Ok(Decoded::Get { id: request.id(), key: get.key().bytes() });
    }
    decode_verified(request).map(Decoded::Request)
}

/// `buf` within the frame limit and through the verifier.
fn verify<'b>(buf: &'b [u8], limits: &WireLimits) -> Result<fb::Request<'b>> {
    limits.check_frame(buf)?;
    flatbuffers::root_with_opts::<fb::Request>(&limits.verifier_options(), buf).map_err(|e| Error::MalformedRequest {
        id: None,
        reason: format!("invalid FlatBuffer: {}", e.to_string().trim_end()),
    })
}

/// Decodes a verified request.
fn decode_verified(request: fb::Request<'_>) -> Result<Request> {
    let id = request.id();
    let malformed = |reason: String| Error::MalformedRequest { id: Some(id), reason };
    let missing = || malformed(format!("{:?} body table missing", request.body_type()));
    let body = match request.body_type() {
        fb::RequestBody::NONE => return Err(malformed("request has no body".to_owned())),
        fb::RequestBody::Txn => {
            let txn = request.body_as_txn().ok_or_else(missing)?;
            let ops =
                txn.ops().iter().enumerate().map(|(index, op)| decode_op(id, index, op)).collect::<Result<Vec<_>>>()?;
            RequestBody::Txn(ops)
        }
        fb::RequestBody::Auth => {
            let auth = request.body_as_auth().ok_or_else(missing)?;
            RequestBody::Auth { token: auth.token().to_owned() }
        }
        fb::RequestBody::Ping => {
            let ping = request.body_as_ping().ok_or_else(missing)?;
            RequestBody::Ping { payload: ping.payload().map(|p| p.bytes().to_vec()).unwrap_or_default() }
        }
        fb::RequestBody::Info => {
            request.body_as_info().ok_or_else(missing)?;
            RequestBody::Info
        }
        fb::RequestBody::Checkpoint => {
            request.body_as_checkpoint().ok_or_else(missing)?;
            RequestBody::Checkpoint
        }
        fb::RequestBody::ConfigReload => {
            request.body_as_config_reload().ok_or_else(missing)?;
            RequestBody::ConfigReload
        }
        other => {
            return Err(Error::UnsupportedRequest {
                id: Some(id),
                what: format!("unknown request body tag {}", other.0),
            });
        }
    };
    Ok(Request { id, body })
}

/// Decodes operation `index` of the transaction in request `id`.
fn decode_op(id: u64, index: usize, op: fb::TxnOp<'_>) -> Result<Op> {
    let malformed = |reason: &str| Error::MalformedRequest { id: Some(id), reason: format!("op {index}: {reason}") };
    let missing = || malformed(&format!("{:?} table missing", op.op_type()));
    let decoded = match op.op_type() {
        fb::Op::NONE => return Err(malformed("no operation")),
        fb::Op::Get => {
            let get = op.op_as_get().ok_or_else(missing)?;
            Op::Get { key: get.key().bytes().to_vec() }
        }
        fb::Op::Set => {
            let set = op.op_as_set().ok_or_else(missing)?;
            let ttl_ms = set.ttl_ms();
            Op::Set {
                key: set.key().bytes().to_vec(),
                value: set.value().bytes().to_vec(),
                ttl_ms: (ttl_ms != 0).then_some(ttl_ms),
            }
        }
        fb::Op::Del => {
            let del = op.op_as_del().ok_or_else(missing)?;
            Op::Del { key: del.key().bytes().to_vec() }
        }
        fb::Op::Assert => {
            let assert = op.op_as_assert().ok_or_else(missing)?;
            let condition = decode_condition(assert).map_err(|reason| malformed(&reason))?;
            Op::Assert { key: assert.key().bytes().to_vec(), condition }
        }
        fb::Op::Scan => {
            let scan = op.op_as_scan().ok_or_else(missing)?;
            Op::Scan {
                start: scan.start().map(|s| s.bytes().to_vec()),
                end: scan.end().map(|e| e.bytes().to_vec()),
                limit: scan.limit(),
                reverse: scan.reverse(),
            }
        }
        other => {
            return Err(Error::UnsupportedRequest {
                id: Some(id),
                what: format!("op {index}: unknown op tag {}", other.0),
            });
        }
    };
    Ok(decoded)
}

/// The condition of an assert. Each kind has exactly the fields it uses:
/// a stray `value` or `version` is a client bug (it meant another kind).
fn decode_condition(assert: fb::Assert<'_>) -> std::result::Result<AssertCondition, String> {
    let kind = assert.kind();
    let value = assert.value();
    let version = assert.version();
    match kind {
        fb::AssertKind::Exists | fb::AssertKind::Absent | fb::AssertKind::VersionEquals if value.is_some() => {
            Err(format!("assert {kind:?} has a value (only ValueEquals takes one)"))
        }
        fb::AssertKind::Exists | fb::AssertKind::Absent | fb::AssertKind::ValueEquals if version != 0 => {
            Err(format!("assert {kind:?} has version {version} (only VersionEquals takes one)"))
        }
        fb::AssertKind::Exists => Ok(AssertCondition::Exists),
        fb::AssertKind::Absent => Ok(AssertCondition::Absent),
        fb::AssertKind::ValueEquals => match value {
            Some(value) => Ok(AssertCondition::ValueEquals(value.bytes().to_vec())),
            None => Err("assert ValueEquals has no value".to_owned()),
        },
        fb::AssertKind::VersionEquals => Ok(AssertCondition::VersionEquals(version)),
        other => Err(format!("unknown assert kind {}", other.0)),
    }
}
