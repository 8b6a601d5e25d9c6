//! The floor dispatch is compared to: the same 100-message subscribe
//! envelope parsed by serde_json into a borrowed struct (`&str` and
//! `&RawValue` fields, nothing owned), and into `serde_json::Value` for
//! reference.
//!
//! `cargo bench --bench decode_baseline`

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde::Deserialize;
use serde_json::value::RawValue;
use support::{envelope, Mix};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Cursor<'a> {
    #[serde(borrow)]
    t: &'a str,
    r: u32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Envelope<'a> {
    #[serde(borrow)]
    c: &'a str,
    #[serde(borrow, default)]
    b: Option<&'a str>,
    #[serde(borrow)]
    d: &'a RawValue,
    #[serde(default)]
    e: Option<u8>,
    #[serde(borrow, default)]
    i: Option<&'a str>,
    #[serde(borrow)]
    p: Cursor<'a>,
    #[serde(borrow, default)]
    u: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Response<'a> {
    #[serde(borrow)]
    t: Cursor<'a>,
    #[serde(borrow)]
    m: Vec<Envelope<'a>>,
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_baseline");
    group.throughput(Throughput::Elements(100));
    for (name, mix) in [("messages", Mix::Messages), ("mixed", Mix::Mixed)] {
        let body = envelope(17_000_000_000_000_000, mix, &|_| "chat".to_owned(), None);
        group.bench_function(format!("borrowed/{name}"), |b| {
            b.iter(|| {
                let parsed: Response<'_> =
                    serde_json::from_slice(std::hint::black_box(body.as_bytes())).unwrap();
                std::hint::black_box(parsed.m.len())
            })
        });
        group.bench_function(format!("value/{name}"), |b| {
            b.iter_batched(
                || body.as_bytes(),
                |bytes| {
                    let parsed: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                    std::hint::black_box(parsed)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
