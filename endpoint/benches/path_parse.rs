//! Path Name parsing, which runs on every request path an Agent receives.
//!
//! Cases: a plain parameter path, and a search path with two terms (one
//! through a sub-object). Baseline beside them: splitting the plain path on
//! `.` into owned `String`s, the least an allocating parser could do; the
//! ratio shows what the grammar checks cost on top of the allocations the
//! AST needs anyway. Printing is measured too (resolved paths and
//! `supported_form` use it).
//!
//! Run: `cargo bench -p usp-endpoint --bench path_parse -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::Criterion;
use usp_endpoint::path::Path;

const PLAIN: &str = "Device.IoTCapability.1.LevelSensor.Value";
const SEARCH: &str =
    r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Unit=="degC"].LevelControl.Value"#;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("path_parse");
    group.bench_function("baseline_split_plain", |b| {
        b.iter(|| black_box(PLAIN).split('.').map(str::to_owned).collect::<Vec<String>>())
    });
    group.bench_function("plain_param", |b| b.iter(|| Path::parse(black_box(PLAIN))));
    group.bench_function("search_two_terms", |b| b.iter(|| Path::parse(black_box(SEARCH))));
    group.finish();

    let mut group = c.benchmark_group("path_print");
    let plain = Path::parse(PLAIN).expect("valid");
    let search = Path::parse(SEARCH).expect("valid");
    group.bench_function("plain_param", |b| b.iter(|| black_box(&plain).to_string()));
    group.bench_function("search_two_terms", |b| b.iter(|| black_box(&search).to_string()));
    group.bench_function("supported_form_search", |b| b.iter(|| black_box(&search).supported_form()));
    group.finish();
}

// Written out instead of `criterion_group!`/`criterion_main!`, whose
// generated public function has no doc comment (the workspace denies that).
fn main() {
    let mut c = Criterion::default().configure_from_args();
    parse(&mut c);
    c.final_summary();
}
