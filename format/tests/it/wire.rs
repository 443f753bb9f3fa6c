//! Client/server messages: round trips, hostile input, limits, and the
//! golden encodings of every request and response kind.

use flatbuffers::FlatBufferBuilder;
use jubilant_format::generated::wire as fb;
use jubilant_format::wire::{
    AssertCondition, DEFAULT_MAX_FRAME, Decoded, ErrorCode, FRAME_PREFIX_LEN, KeyValue, Op, OpResult, Request,
    RequestBody, Response, ResponseBody, TxnResult, WireError, WireLimits, decode_request, decode_request_or_get,
    decode_response, encode_frame, frame_len,
};
use jubilant_format::{Error, Structure};
use proptest::prelude::*;

use crate::support::check_golden;

// ---------------------------------------------------------------------
// Strategies

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24)
}

/// Optional wire numbers where 0 means absent: `Some(0)` cannot round-trip.
fn nonzero_option() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(1..=u64::MAX)
}

fn condition() -> impl Strategy<Value = AssertCondition> {
    prop_oneof![
        Just(AssertCondition::Exists),
        Just(AssertCondition::Absent),
        bytes().prop_map(AssertCondition::ValueEquals),
        any::<u64>().prop_map(AssertCondition::VersionEquals),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        bytes().prop_map(|key| Op::Get { key }),
        (bytes(), bytes(), nonzero_option()).prop_map(|(key, value, ttl_ms)| Op::Set { key, value, ttl_ms }),
        bytes().prop_map(|key| Op::Del { key }),
        (bytes(), condition()).prop_map(|(key, condition)| Op::Assert { key, condition }),
        (prop::option::of(bytes()), prop::option::of(bytes()), any::<u32>(), any::<bool>())
            .prop_map(|(start, end, limit, reverse)| Op::Scan { start, end, limit, reverse }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let body = prop_oneof![
        prop::collection::vec(op(), 0..8).prop_map(RequestBody::Txn),
        any::<String>().prop_map(|token| RequestBody::Auth { token }),
        bytes().prop_map(|payload| RequestBody::Ping { payload }),
        Just(RequestBody::Info),
        Just(RequestBody::Checkpoint),
        Just(RequestBody::ConfigReload),
    ];
    (any::<u64>(), body).prop_map(|(id, body)| Request { id, body })
}

fn key_value() -> impl Strategy<Value = KeyValue> {
    (bytes(), bytes(), any::<u64>(), nonzero_option()).prop_map(|(key, value, version, expires_at_unix_ms)| KeyValue {
        key,
        value,
        version,
        expires_at_unix_ms,
    })
}

fn op_result() -> impl Strategy<Value = OpResult> {
    prop_oneof![
        prop::option::of(key_value()).prop_map(OpResult::Get),
        Just(OpResult::Set),
        any::<bool>().prop_map(|existed| OpResult::Del { existed }),
        Just(OpResult::Assert),
        (prop::collection::vec(key_value(), 0..4), any::<bool>())
            .prop_map(|(items, truncated)| OpResult::Scan { items, truncated }),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        prop::sample::select(ErrorCode::ALL.to_vec()),
        // Codes this build does not know survive as `Unknown`.
        prop_oneof![Just(0u16), 14..=u16::MAX].prop_map(ErrorCode::Unknown),
    ]
}

fn wire_error() -> impl Strategy<Value = WireError> {
    let op_index = prop::option::of(0..=i32::MAX.unsigned_abs());
    (error_code(), any::<String>(), op_index, any::<bool>())
        .prop_map(|(code, message, op_index, retryable)| WireError { code, message, op_index, retryable })
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any::<String>(), 0..4)
}

fn response() -> impl Strategy<Value = Response> {
    let body = prop_oneof![
        (prop::collection::vec(op_result(), 0..8), any::<u64>())
            .prop_map(|(results, commit_version)| ResponseBody::Txn(TxnResult { results, commit_version })),
        wire_error().prop_map(ResponseBody::Error),
        any::<String>().prop_map(|role| ResponseBody::Auth { role }),
        bytes().prop_map(|payload| ResponseBody::Pong { payload }),
        prop::collection::vec((any::<String>(), any::<String>()), 0..4).prop_map(ResponseBody::Info),
        (any::<u64>(), any::<u64>())
            .prop_map(|(checkpoint_lsn, generation)| { ResponseBody::Checkpoint { checkpoint_lsn, generation } }),
        (strings(), strings())
            .prop_map(|(applied, needs_restart)| ResponseBody::ConfigReload { applied, needs_restart }),
    ];
    (any::<u64>(), body).prop_map(|(id, body)| Response { id, body })
}

/// Byte flips to apply to an encoding: (position, non-zero xor mask).
fn flips() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), 1..=u8::MAX), 1..8)
}

fn flip(mut buf: Vec<u8>, flips: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    for (at, mask) in flips {
        let i = at.index(buf.len());
        buf[i] ^= mask;
    }
    buf
}

// ---------------------------------------------------------------------
// Properties

/// `decode_request_or_get` decodes `buf` as `decode_request` does (the
/// same request or the same error), giving exactly the single GETs back
/// with their keys borrowed.
fn peek_agrees(buf: &[u8]) -> Result<(), TestCaseError> {
    let limits = WireLimits::default();
    let full = decode_request(buf, &limits);
    let single_get =
        matches!(&full, Ok(Request { body: RequestBody::Txn(ops), .. }) if matches!(ops.as_slice(), [Op::Get { .. }]));
    let either = decode_request_or_get(buf, &limits);
    prop_assert_eq!(matches!(either, Ok(Decoded::Get { .. })), single_get);
    let owned = either.map(|d| match d {
        Decoded::Get { id, key } => Request { id, body: RequestBody::Txn(vec![Op::Get { key: key.to_vec() }]) },
        Decoded::Request(r) => r,
    });
    prop_assert_eq!(format!("{owned:?}"), format!("{full:?}"));
    Ok(())
}

proptest! {
    #[test]
    fn single_gets_are_read_in_place(id in any::<u64>(), key in bytes(), more in prop::option::of(op())) {
        let mut ops = vec![Op::Get { key: key.clone() }];
        ops.extend(more.clone());
        let bytes = Request { id, body: RequestBody::Txn(ops) }.encode();
        let decoded = decode_request_or_get(&bytes, &WireLimits::default()).unwrap();
        let in_place = match decoded {
            Decoded::Get { id, key } => Some((id, key)),
            Decoded::Request(_) => None,
        };
        prop_assert_eq!(in_place, more.is_none().then_some((id, &key[..])));
        peek_agrees(&bytes)?;
    }

    #[test]
    fn request_round_trips(request in request()) {
        let bytes = request.encode();
        peek_agrees(&bytes)?;
        prop_assert_eq!(decode_request(&bytes, &WireLimits::default()).unwrap(), request.clone());
        // A reused builder gives the same bytes.
        let mut fbb = FlatBufferBuilder::new();
        Request { id: 0, body: RequestBody::Info }.encode_with(&mut fbb);
        prop_assert_eq!(request.encode_with(&mut fbb), &bytes[..]);
    }

    #[test]
    fn response_round_trips(response in response()) {
        let bytes = response.encode();
        prop_assert_eq!(decode_response(&bytes, &WireLimits::default()).unwrap(), response.clone());
        let mut fbb = FlatBufferBuilder::new();
        Response { id: 0, body: ResponseBody::Auth { role: "x".into() } }.encode_with(&mut fbb);
        prop_assert_eq!(response.encode_with(&mut fbb), &bytes[..]);
    }

    #[test]
    fn framed_request_round_trips(request in request(), junk in bytes()) {
        let mut stream = Vec::new();
        encode_frame(&request.encode(), &mut stream);
        stream.extend_from_slice(&junk);
        let prefix: [u8; FRAME_PREFIX_LEN] = stream[..FRAME_PREFIX_LEN].try_into().unwrap();
        let len = frame_len(prefix, DEFAULT_MAX_FRAME).unwrap();
        let body = &stream[FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + len];
        prop_assert_eq!(decode_request(body, &WireLimits::default()).unwrap(), request);
    }
}

proptest! {
    // Hostile input is cheap to decode: run more cases.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = WireLimits::default();
        peek_agrees(&buf)?;
        if let Err(e) = decode_request(&buf, &limits) {
            prop_assert!(
                matches!(e, Error::MalformedRequest { .. } | Error::UnsupportedRequest { .. }),
                "{e:?}"
            );
        }
        let _ = decode_response(&buf, &limits);
        let mut prefix = [0; FRAME_PREFIX_LEN];
        for (p, b) in prefix.iter_mut().zip(&buf) {
            *p = *b;
        }
        let _ = frame_len(prefix, DEFAULT_MAX_FRAME);
    }

    #[test]
    fn flipped_requests_never_panic(request in request(), flips in flips()) {
        let buf = flip(request.encode(), &flips);
        peek_agrees(&buf)?;
        // Whatever still decodes is a well-formed request again.
        if let Ok(decoded) = decode_request(&buf, &WireLimits::default()) {
            prop_assert_eq!(decode_request(&decoded.encode(), &WireLimits::default()).unwrap(), decoded);
        }
    }

    #[test]
    fn flipped_responses_never_panic(response in response(), flips in flips()) {
        let buf = flip(response.encode(), &flips);
        if let Ok(decoded) = decode_response(&buf, &WireLimits::default()) {
            prop_assert_eq!(decode_response(&decoded.encode(), &WireLimits::default()).unwrap(), decoded);
        }
    }
}

// ---------------------------------------------------------------------
// Frames and hostile requests

#[test]
fn oversized_prefix_is_frame_too_large() {
    let max = DEFAULT_MAX_FRAME as u64;
    for len in [max + 1, u64::from(u32::MAX)] {
        let prefix = u32::try_from(len).unwrap().to_le_bytes();
        assert_eq!(frame_len(prefix, DEFAULT_MAX_FRAME), Err(Error::FrameTooLarge { len, max }));
    }
    assert_eq!(frame_len((16u32 << 20).to_le_bytes(), DEFAULT_MAX_FRAME).unwrap(), 16 << 20);
    // A whole body over the limit is refused before verification.
    let limits = WireLimits { max_frame: 8, ..WireLimits::default() };
    let body = Request { id: 1, body: RequestBody::Info }.encode();
    let too_large = Error::FrameTooLarge { len: body.len() as u64, max: 8 };
    assert_eq!(decode_request(&body, &limits), Err(too_large.clone()));
    assert_eq!(decode_response(&body, &limits), Err(too_large));
}

#[test]
fn truncated_request_is_malformed_without_id() {
    let request = Request {
        id: 9,
        body: RequestBody::Txn(vec![Op::Set { key: b"k".to_vec(), value: b"v".to_vec(), ttl_ms: None }]),
    };
    let bytes = request.encode();
    // The builder pads the first object it writes (the value, at the end
    // of the buffer) to alignment: cutting only that padding loses
    // nothing. Every cut into content is caught.
    let mut failures = 0;
    for len in 0..bytes.len() {
        match decode_request(&bytes[..len], &WireLimits::default()) {
            Ok(decoded) => {
                assert_eq!(decoded, request, "{len}");
                assert!(len + 3 >= bytes.len(), "cut at {len} of {} decoded", bytes.len());
            }
            Err(err) => {
                assert!(matches!(err, Error::MalformedRequest { id: None, .. }), "{len}: {err:?}");
                failures += 1;
            }
        }
    }
    assert!(failures + 3 >= bytes.len());
}

/// Finishes a raw `Request` whose body is `body_type` over `body`.
fn raw_request(
    fbb: &mut FlatBufferBuilder<'_>,
    id: u64,
    body_type: fb::RequestBody,
    body: Option<flatbuffers::WIPOffset<flatbuffers::UnionWIPOffset>>,
) -> Vec<u8> {
    let root = fb::Request::create(fbb, &fb::RequestArgs { id, body_type, body });
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

/// A raw `Txn` request of one `Assert` built from `args`.
fn raw_assert_request(id: u64, kind: fb::AssertKind, value: Option<&[u8]>, version: u64) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let key = fbb.create_vector(b"k".as_slice());
    let value = value.map(|v| fbb.create_vector(v));
    let assert = fb::Assert::create(&mut fbb, &fb::AssertArgs { key: Some(key), kind, value, version });
    let op = fb::TxnOp::create(&mut fbb, &fb::TxnOpArgs { op_type: fb::Op::Assert, op: Some(assert.as_union_value()) });
    let ops = fbb.create_vector(&[op]);
    let txn = fb::Txn::create(&mut fbb, &fb::TxnArgs { ops: Some(ops) });
    raw_request(&mut fbb, id, fb::RequestBody::Txn, Some(txn.as_union_value()))
}

fn malformed_reason(err: Error, expected_id: u64) -> String {
    match err {
        Error::MalformedRequest { id: Some(id), reason } if id == expected_id => reason,
        other => panic!("expected MalformedRequest with id {expected_id}, got {other:?}"),
    }
}

#[test]
fn unknown_body_tag_is_unsupported_with_the_id() {
    let mut fbb = FlatBufferBuilder::new();
    let info = fb::Info::create(&mut fbb, &fb::InfoArgs {});
    let bytes = raw_request(&mut fbb, 77, fb::RequestBody(200), Some(info.as_union_value()));
    assert_eq!(
        decode_request(&bytes, &WireLimits::default()),
        Err(Error::UnsupportedRequest { id: Some(77), what: "unknown request body tag 200".into() })
    );
}

#[test]
fn unknown_op_tag_is_unsupported_with_the_id() {
    let mut fbb = FlatBufferBuilder::new();
    let key = fbb.create_vector(b"k".as_slice());
    let get = fb::Get::create(&mut fbb, &fb::GetArgs { key: Some(key) });
    let known = fb::TxnOp::create(&mut fbb, &fb::TxnOpArgs { op_type: fb::Op::Get, op: Some(get.as_union_value()) });
    let unknown = fb::TxnOp::create(&mut fbb, &fb::TxnOpArgs { op_type: fb::Op(99), op: Some(get.as_union_value()) });
    let ops = fbb.create_vector(&[known, unknown]);
    let txn = fb::Txn::create(&mut fbb, &fb::TxnArgs { ops: Some(ops) });
    let bytes = raw_request(&mut fbb, 5, fb::RequestBody::Txn, Some(txn.as_union_value()));
    assert_eq!(
        decode_request(&bytes, &WireLimits::default()),
        Err(Error::UnsupportedRequest { id: Some(5), what: "op 1: unknown op tag 99".into() })
    );
}

#[test]
fn missing_body_or_op_is_malformed_with_the_id() {
    let mut fbb = FlatBufferBuilder::new();
    let bytes = raw_request(&mut fbb, 3, fb::RequestBody::NONE, None);
    let reason = malformed_reason(decode_request(&bytes, &WireLimits::default()).unwrap_err(), 3);
    assert_eq!(reason, "request has no body");

    let mut fbb = FlatBufferBuilder::new();
    let op = fb::TxnOp::create(&mut fbb, &fb::TxnOpArgs::default());
    let ops = fbb.create_vector(&[op]);
    let txn = fb::Txn::create(&mut fbb, &fb::TxnArgs { ops: Some(ops) });
    let bytes = raw_request(&mut fbb, 4, fb::RequestBody::Txn, Some(txn.as_union_value()));
    let reason = malformed_reason(decode_request(&bytes, &WireLimits::default()).unwrap_err(), 4);
    assert_eq!(reason, "op 0: no operation");
}

#[test]
fn assert_fields_must_match_the_kind() {
    let decode = |bytes: Vec<u8>| decode_request(&bytes, &WireLimits::default());
    let cases: [(fb::AssertKind, Option<&[u8]>, u64, &str); 4] = [
        (fb::AssertKind::ValueEquals, None, 0, "op 0: assert ValueEquals has no value"),
        (fb::AssertKind(7), None, 0, "op 0: unknown assert kind 7"),
        (fb::AssertKind::Exists, Some(b"v"), 0, "op 0: assert Exists has a value (only ValueEquals takes one)"),
        (fb::AssertKind::Absent, None, 12, "op 0: assert Absent has version 12 (only VersionEquals takes one)"),
    ];
    for (kind, value, version, expected) in cases {
        let reason = malformed_reason(decode(raw_assert_request(21, kind, value, version)).unwrap_err(), 21);
        assert_eq!(reason, expected);
    }
    // The well-formed counterparts decode.
    let ok = decode(raw_assert_request(21, fb::AssertKind::ValueEquals, Some(b""), 0)).unwrap();
    assert_eq!(
        ok.body,
        RequestBody::Txn(vec![Op::Assert { key: b"k".to_vec(), condition: AssertCondition::ValueEquals(vec![]) }])
    );
    let ok = decode(raw_assert_request(21, fb::AssertKind::VersionEquals, None, 0)).unwrap();
    assert_eq!(
        ok.body,
        RequestBody::Txn(vec![Op::Assert { key: b"k".to_vec(), condition: AssertCondition::VersionEquals(0) }])
    );
}

// ---------------------------------------------------------------------
// Limits

fn gets(n: usize) -> Request {
    Request { id: 1, body: RequestBody::Txn(vec![Op::Get { key: vec![] }; n]) }
}

#[test]
fn depth_limit_is_enforced_and_fits_the_deepest_messages() {
    // Request → Txn → TxnOp → Set: four tables.
    let request =
        Request { id: 8, body: RequestBody::Txn(vec![Op::Set { key: vec![1], value: vec![2], ttl_ms: Some(3) }]) };
    let bytes = request.encode();
    let depth = |max_depth| WireLimits { max_depth, ..WireLimits::default() };
    assert_eq!(decode_request(&bytes, &depth(4)).unwrap(), request);
    let err = decode_request(&bytes, &depth(3)).unwrap_err();
    assert!(matches!(&err, Error::MalformedRequest { id: None, reason } if reason.contains("depth")), "{err:?}");

    // Response → TxnResult → TxnOpResult → GetResult → KeyValue: five.
    let item = KeyValue { key: vec![1], value: vec![2], version: 3, expires_at_unix_ms: None };
    let response = Response {
        id: 8,
        body: ResponseBody::Txn(TxnResult { results: vec![OpResult::Get(Some(item))], commit_version: 0 }),
    };
    let bytes = response.encode();
    assert_eq!(decode_response(&bytes, &depth(5)).unwrap(), response);
    let err = decode_response(&bytes, &depth(4)).unwrap_err();
    assert!(matches!(err, Error::InvalidFlatbuffer { structure: Structure::WireResponse, .. }), "{err:?}");
    assert!(WireLimits::default().max_depth >= 5);
}

#[test]
fn table_limit_bounds_transaction_size() {
    // Request and Txn, then TxnOp and Get per operation.
    let bytes = gets(10).encode();
    let tables = |max_tables| WireLimits { max_tables, ..WireLimits::default() };
    assert!(decode_request(&bytes, &tables(22)).is_ok());
    let err = decode_request(&bytes, &tables(21)).unwrap_err();
    assert!(matches!(&err, Error::MalformedRequest { id: None, reason } if reason.contains("tables")), "{err:?}");

    // The default admits 49,999 operations and no more.
    let largest = gets(49_999);
    assert_eq!(decode_request(&largest.encode(), &WireLimits::default()).unwrap(), largest);
    let err = decode_request(&gets(50_000).encode(), &WireLimits::default()).unwrap_err();
    assert!(matches!(err, Error::MalformedRequest { id: None, .. }), "{err:?}");
}

#[test]
fn an_honest_frame_at_the_size_limit_passes_the_apparent_size_check() {
    // Many small tables are where the verifier's accounting (vtables
    // counted at every table) runs furthest ahead of the frame length.
    let request = gets(49_999);
    let bytes = request.encode();
    let limits = WireLimits { max_frame: bytes.len(), ..WireLimits::default() };
    assert_eq!(decode_request(&bytes, &limits).unwrap(), request);

    let results = vec![OpResult::Set; 49_990];
    let response = Response { id: 1, body: ResponseBody::Txn(TxnResult { results, commit_version: 1 }) };
    let bytes = response.encode();
    let limits = WireLimits { max_frame: bytes.len(), ..WireLimits::default() };
    assert_eq!(decode_response(&bytes, &limits).unwrap(), response);
}

#[test]
fn shared_vectors_cannot_amplify_a_small_frame() {
    // 1,000 Set operations whose values are all the same 16 KiB vector:
    // a ~50 KiB frame that would decode into 16 MiB of values.
    let mut fbb = FlatBufferBuilder::new();
    let value = fbb.create_vector(vec![7u8; 16 << 10].as_slice());
    let key = fbb.create_vector(b"k".as_slice());
    let ops: Vec<_> = (0..1_000)
        .map(|_| {
            let set = fb::Set::create(&mut fbb, &fb::SetArgs { key: Some(key), value: Some(value), ttl_ms: 0 });
            fb::TxnOp::create(&mut fbb, &fb::TxnOpArgs { op_type: fb::Op::Set, op: Some(set.as_union_value()) })
        })
        .collect();
    let ops = fbb.create_vector(&ops);
    let txn = fb::Txn::create(&mut fbb, &fb::TxnArgs { ops: Some(ops) });
    let bytes = raw_request(&mut fbb, 1, fb::RequestBody::Txn, Some(txn.as_union_value()));
    assert!(bytes.len() < 64 << 10);

    let limits = WireLimits { max_frame: bytes.len(), ..WireLimits::default() };
    let err = decode_request(&bytes, &limits).unwrap_err();
    assert!(
        matches!(&err, Error::MalformedRequest { id: None, reason } if reason.contains("Apparent size too large")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------
// Hostile responses

fn raw_response(
    fbb: &mut FlatBufferBuilder<'_>,
    body_type: fb::ResponseBody,
    body: Option<flatbuffers::WIPOffset<flatbuffers::UnionWIPOffset>>,
) -> Vec<u8> {
    let root = fb::Response::create(fbb, &fb::ResponseArgs { id: 6, body_type, body });
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

fn raw_error_response(code: u16, op_index: i32) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let message = fbb.create_string("boom");
    let error = fb::Error::create(
        &mut fbb,
        &fb::ErrorArgs { code: fb::ErrorCode(code), message: Some(message), op_index, retryable: true },
    );
    raw_response(&mut fbb, fb::ResponseBody::Error, Some(error.as_union_value()))
}

#[test]
fn hostile_responses_get_typed_errors() {
    let limits = WireLimits::default();
    let content = |reason: &str| Error::InvalidContent { structure: Structure::WireResponse, reason: reason.into() };

    let mut fbb = FlatBufferBuilder::new();
    let bytes = raw_response(&mut fbb, fb::ResponseBody::NONE, None);
    assert_eq!(decode_response(&bytes, &limits), Err(content("response has no body")));

    let mut fbb = FlatBufferBuilder::new();
    let pong = fb::Pong::create(&mut fbb, &fb::PongArgs::default());
    let bytes = raw_response(&mut fbb, fb::ResponseBody(42), Some(pong.as_union_value()));
    assert_eq!(
        decode_response(&bytes, &limits),
        Err(Error::UnknownUnionTag { structure: Structure::WireResponse, field: "body", tag: 42 })
    );

    let mut fbb = FlatBufferBuilder::new();
    let set = fb::SetResult::create(&mut fbb, &fb::SetResultArgs {});
    let result = fb::TxnOpResult::create(
        &mut fbb,
        &fb::TxnOpResultArgs { result_type: fb::OpResult(9), result: Some(set.as_union_value()) },
    );
    let results = fbb.create_vector(&[result]);
    let txn = fb::TxnResult::create(&mut fbb, &fb::TxnResultArgs { results: Some(results), commit_version: 0 });
    let bytes = raw_response(&mut fbb, fb::ResponseBody::TxnResult, Some(txn.as_union_value()));
    assert_eq!(
        decode_response(&bytes, &limits),
        Err(Error::UnknownUnionTag { structure: Structure::WireResponse, field: "result", tag: 9 })
    );

    assert_eq!(
        decode_response(&raw_error_response(1, -2), &limits),
        Err(content("error op_index is -2, expected -1 or an index"))
    );

    // An error code from a newer server is kept, not refused.
    let decoded = decode_response(&raw_error_response(500, -1), &limits).unwrap();
    assert_eq!(
        decoded.body,
        ResponseBody::Error(WireError {
            code: ErrorCode::Unknown(500),
            message: "boom".into(),
            op_index: None,
            retryable: true,
        })
    );

    let err = decode_response(&[1, 2, 3], &limits).unwrap_err();
    assert!(matches!(err, Error::InvalidFlatbuffer { structure: Structure::WireResponse, offset: 0, .. }), "{err:?}");
}

#[test]
fn wire_error_new_takes_the_default_retryability() {
    let busy = WireError::new(ErrorCode::Busy, "later");
    assert_eq!(busy, WireError { code: ErrorCode::Busy, message: "later".into(), op_index: None, retryable: true });
    assert!(!WireError::new(ErrorCode::Forbidden, "no").retryable);
}

// ---------------------------------------------------------------------
// Golden files

/// The golden-file name of a request kind; exhaustive, so a new kind
/// cannot be added without naming it here (and adding a sample below).
fn request_name(body: &RequestBody) -> &'static str {
    match body {
        RequestBody::Txn(_) => "txn",
        RequestBody::Auth { .. } => "auth",
        RequestBody::Ping { .. } => "ping",
        RequestBody::Info => "info",
        RequestBody::Checkpoint => "checkpoint",
        RequestBody::ConfigReload => "config_reload",
    }
}

fn response_name(body: &ResponseBody) -> &'static str {
    match body {
        ResponseBody::Txn(_) => "txn",
        ResponseBody::Error(_) => "error",
        ResponseBody::Auth { .. } => "auth",
        ResponseBody::Pong { .. } => "pong",
        ResponseBody::Info(_) => "info",
        ResponseBody::Checkpoint { .. } => "checkpoint",
        ResponseBody::ConfigReload { .. } => "config_reload",
    }
}

/// One request of each kind; the transaction holds every operation and
/// every assert condition.
fn sample_requests() -> Vec<Request> {
    let key = |k: &str| k.as_bytes().to_vec();
    let ops = vec![
        Op::Get { key: key("user:1") },
        Op::Set { key: key("user:2"), value: key("alice"), ttl_ms: Some(60_000) },
        Op::Set { key: vec![0, 0xff], value: vec![1, 2, 3], ttl_ms: None },
        Op::Del { key: key("user:3") },
        Op::Assert { key: key("user:2"), condition: AssertCondition::Exists },
        Op::Assert { key: key("user:4"), condition: AssertCondition::Absent },
        Op::Assert { key: key("user:1"), condition: AssertCondition::ValueEquals(key("bob")) },
        Op::Assert { key: key("user:3"), condition: AssertCondition::VersionEquals(41) },
        Op::Scan { start: Some(key("user:")), end: Some(key("user;")), limit: 100, reverse: false },
        Op::Scan { start: None, end: None, limit: 0, reverse: true },
    ];
    vec![
        Request { id: 1, body: RequestBody::Txn(ops) },
        Request { id: 2, body: RequestBody::Auth { token: "jdb_test_token".into() } },
        Request { id: 3, body: RequestBody::Ping { payload: vec![0, 1, 0xfe, 0xff] } },
        Request { id: 4, body: RequestBody::Info },
        Request { id: 5, body: RequestBody::Checkpoint },
        Request { id: 6, body: RequestBody::ConfigReload },
    ]
}

fn sample_responses() -> Vec<Response> {
    let kv = |k: &str, v: &str, version, expires_at_unix_ms| KeyValue {
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
        version,
        expires_at_unix_ms,
    };
    let results = vec![
        OpResult::Get(Some(kv("user:1", "bob", 17, Some(1_700_000_000_000)))),
        OpResult::Get(None),
        OpResult::Set,
        OpResult::Del { existed: true },
        OpResult::Assert,
        OpResult::Scan { items: vec![kv("user:1", "bob", 17, None), kv("user:2", "alice", 42, None)], truncated: true },
    ];
    let error = WireError {
        code: ErrorCode::AssertFailed,
        message: "assert 6 failed: value differs".into(),
        op_index: Some(6),
        retryable: false,
    };
    vec![
        Response { id: 1, body: ResponseBody::Txn(TxnResult { results, commit_version: 42 }) },
        Response { id: 1, body: ResponseBody::Error(error) },
        Response { id: 2, body: ResponseBody::Auth { role: "admin".into() } },
        Response { id: 3, body: ResponseBody::Pong { payload: vec![0, 1, 0xfe, 0xff] } },
        Response {
            id: 4,
            body: ResponseBody::Info(vec![("version".into(), "0.1.0".into()), ("keys".into(), "12".into())]),
        },
        Response { id: 5, body: ResponseBody::Checkpoint { checkpoint_lsn: 1234, generation: 7 } },
        Response {
            id: 6,
            body: ResponseBody::ConfigReload {
                applied: vec!["log_level".into()],
                needs_restart: vec!["listen".into()],
            },
        },
    ]
}

#[test]
fn golden_wire_requests() {
    let samples = sample_requests();
    let mut names: Vec<_> = samples.iter().map(|r| request_name(&r.body)).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 6, "one sample per request kind");
    for sample in samples {
        let name = format!("wire_request_{}", request_name(&sample.body));
        let bytes = check_golden(&name, &sample.encode());
        let decoded = decode_request(&bytes, &WireLimits::default()).unwrap();
        assert_eq!(decoded, sample, "{name}");
        insta::assert_json_snapshot!(name, decoded);
    }
}

#[test]
fn golden_wire_responses() {
    let samples = sample_responses();
    let mut names: Vec<_> = samples.iter().map(|r| response_name(&r.body)).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 7, "one sample per response kind");
    for sample in samples {
        let name = format!("wire_response_{}", response_name(&sample.body));
        let bytes = check_golden(&name, &sample.encode());
        let decoded = decode_response(&bytes, &WireLimits::default()).unwrap();
        assert_eq!(decoded, sample, "{name}");
        insta::assert_json_snapshot!(name, decoded);
    }
}
