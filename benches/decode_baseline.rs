//! The floor dispatch is compared to: the same 100-message subscribe
//! envelope parsed by serde_json into a borrowed struct (`&str` and
//! `&RawValue` fields, nothing owned), and into `serde_json::Value` for
//! reference.
//!
//! `cargo bench --bench decode_baseline`
//!
//! (`cargo bench --bench dispatch` measures this floor again side by side
//! with dispatch, for the ratio.)

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{borrowed, envelope, Mix};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_baseline");
    group.throughput(Throughput::Elements(100));
    for (name, mix) in [("messages", Mix::Messages), ("mixed", Mix::Mixed)] {
        let body = envelope(17_000_000_000_000_000, mix, &|_| "chat".to_owned(), None);
        assert_eq!(borrowed::decode(body.as_bytes()), 100);
        group.bench_function(format!("borrowed/{name}"), |b| {
            b.iter(|| borrowed::decode(std::hint::black_box(body.as_bytes())))
        });
        group.bench_function(format!("value/{name}"), |b| {
            b.iter(|| {
                let parsed: serde_json::Value =
                    serde_json::from_slice(std::hint::black_box(body.as_bytes())).unwrap();
                parsed
            })
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
