//! Request parsing: Ferrite's hand-written parser against redis-protocol's
//! RESP2 decoder (`decode_bytes_mut`, zero-copy frames), on the shapes that
//! matter: a pipeline of small commands in one read, and one large MSET
//! arriving in 1 KB reads (where a decoder without a resume cursor re-parses
//! the partial request from its first byte on every read).

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_resp::{ParseLimits, RequestParser};

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn pipeline(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend(command(&[
            b"SET",
            format!("key:{i:06}").as_bytes(),
            &[b'x'; 64],
        ]));
    }
    out
}

fn big_mset(pairs: usize) -> Vec<u8> {
    let keys: Vec<String> = (0..pairs).map(|i| format!("key:{i:06}")).collect();
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for key in &keys {
        args.push(key.as_bytes());
        args.push(b"value-value-value");
    }
    command(&args)
}

/// Feeds `input` in `chunk`-byte reads; returns the number of requests parsed.
fn ferrite_parse(input: &[u8], chunk: usize) -> usize {
    let mut parser = RequestParser::new();
    let limits = ParseLimits::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parsed = 0;
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(request) = parser.next_request(&mut buf, &limits).expect("valid input") {
            parsed += black_box(request).len().min(1);
        }
    }
    parsed
}

fn redis_protocol_parse(input: &[u8], chunk: usize) -> usize {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parsed = 0;
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some((frame, _, _)) =
            redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).expect("valid input")
        {
            black_box(frame);
            parsed += 1;
        }
    }
    parsed
}

fn benches(c: &mut Criterion) {
    let cases = [
        ("pipeline_100_set", pipeline(100), 16 * 1024),
        ("mset_10k_pairs_in_1k_reads", big_mset(10_000), 1024),
    ];
    for (name, input, chunk) in cases {
        assert_eq!(
            ferrite_parse(&input, chunk),
            redis_protocol_parse(&input, chunk)
        );
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("ferrite", chunk), &input, |b, input| {
            b.iter(|| ferrite_parse(input, chunk))
        });
        group.bench_with_input(
            BenchmarkId::new("redis-protocol", chunk),
            &input,
            |b, input| b.iter(|| redis_protocol_parse(input, chunk)),
        );
        group.finish();
    }
}

criterion_group!(parser, benches);
criterion_main!(parser);
