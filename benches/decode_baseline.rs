//! The floor dispatch is compared to: the same 100-message subscribe
//! envelope parsed by serde_json (`from_slice`) into a borrowed struct
//! (`&str` and `&RawValue` fields, nothing owned); for reference, the same
//! after one UTF-8 validation of the body (`from_str`), and into
//! `serde_json::Value`.
//!
//! `cargo bench --bench decode_baseline`
//!
//! (`cargo bench --bench dispatch` measures this floor again side by side
//! with dispatch, for the ratio.)

mod support;

use criterion::{criterion_group, Criterion, Throughput};
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
        // For reference: the same borrowed parse after validating the UTF-8
        // of the whole body once (what pubnub-rx's decoder does), which spares
        // serde_json validating each string.
        group.bench_function(format!("borrowed_from_str/{name}"), |b| {
            b.iter(|| {
                let text = std::str::from_utf8(std::hint::black_box(body.as_bytes())).unwrap();
                serde_json::from_str::<borrowed::Response<'_>>(text).map_or(0, |r| r.m.len())
            })
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

/// `PUBNUB_BENCH_PROFILE=borrowed,<envelopes>` (or `from_str,…`, `value,…`): only decodes,
/// for `valgrind --tool=callgrind` or `perf`.
fn profile(spec: &str) -> bool {
    let (kind, count) = spec.split_once(',').unwrap_or((spec, "1000"));
    let count: usize = count.parse().expect("a count");
    let body = envelope(
        17_000_000_000_000_000,
        Mix::Messages,
        &|_| "chat".to_owned(),
        None,
    );
    for _ in 0..count {
        match kind {
            "from_str" => {
                let text = std::str::from_utf8(std::hint::black_box(body.as_bytes())).unwrap();
                let n =
                    serde_json::from_str::<borrowed::Response<'_>>(text).map_or(0, |r| r.m.len());
                std::hint::black_box(n);
            }
            "value" => {
                let v: serde_json::Value = serde_json::from_slice(body.as_bytes()).unwrap();
                std::hint::black_box(v);
            }
            _ => {
                std::hint::black_box(borrowed::decode(std::hint::black_box(body.as_bytes())));
            }
        }
    }
    true
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
fn main() {
    if let Ok(spec) = std::env::var("PUBNUB_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
