//! 1:1 throughput of the Bio-SDK service's `/match`, in process (the operation as the server
//! runs it, without HTTP), on one core (rayon limited to one thread): verifications per second
//! and p50/p99 latency, one JSON line per case.
//!
//! Cases, on MOSIP's test vector (`../shared/data/mosip`, models installed):
//! - `finger-images`: one finger image against one finger image (both extracted per call);
//! - `finger-image-vs-template`: a fresh finger image against a stored template (what an
//!   authentication does when the enrolment was stored by `/extract-template`);
//! - `finger-templates`: template against template (matching only);
//! - `all-images` / `all-templates`: the whole vector (10 fingers, 2 irises, a face; each
//!   modality decided) against itself.
//!
//! `cargo bench -p abis-biosdk --bench verify [-- --quick]`.

#[path = "../../mosip/tests/common/images.rs"]
mod images;

use abis_biosdk::models::Models;
use abis_biosdk::service::{Operation, Policy, Service};
use abis_mosip::cbeff::{self, Modality, Sample};
use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn record(samples: &[&Sample]) -> Value {
    let segments: Vec<Value> = samples
        .iter()
        .map(|s| {
            let kind = match &s.modality {
                Modality::Finger => "Finger",
                Modality::Iris => "Iris",
                Modality::Face => "Face",
                Modality::Other(o) => o.as_str(),
            };
            json!({
                "bdbInfo": {
                    "type": [kind],
                    "subtype": s.subtype.split_whitespace().collect::<Vec<_>>(),
                    "format": {"organization": "Mosip", "type": s.format_type},
                },
                "bdb": base64::engine::general_purpose::STANDARD.encode(&s.data),
            })
        })
        .collect();
    json!({"segments": segments})
}

fn run(service: &Service, op: Operation, body: &Value) -> Value {
    let answer = service.run(op, body);
    match answer.outcome {
        Ok(v) => v,
        Err(f) => panic!("{op:?}: {f}"),
    }
}

/// Times `n` verifications (at least one, at most `budget`), after one warm-up.
fn case(name: &str, service: &Service, body: &Value, n: usize, budget: Duration) {
    let check = run(service, Operation::Match, body);
    let words: Vec<String> = check[0]["decisions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v["match"].as_str().unwrap_or("?")))
        .collect();
    let mut times = Vec::with_capacity(n);
    let started = Instant::now();
    while times.len() < n && (times.is_empty() || started.elapsed() < budget) {
        let t = Instant::now();
        std::hint::black_box(run(service, Operation::Match, body));
        times.push(t.elapsed().as_secs_f64());
    }
    let total: f64 = times.iter().sum();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize] * 1e3;
    println!(
        "{}",
        json!({
            "bench": "biosdk-verify",
            "case": name,
            "verifications": times.len(),
            "verifications_per_s_per_core": times.len() as f64 / total,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "decisions": words.join(" "),
        })
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("the first rayon pool");
    let Some(xml) = images::test_vector_xml() else {
        eprintln!("SKIP: no MOSIP test vector");
        return;
    };
    let samples = cbeff::samples(&xml).unwrap();
    let service = Service::new(Models::load(None), Policy::default());

    let finger: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.finger_position() == Some(2))
        .collect();
    let all: Vec<&Sample> = samples.iter().collect();
    let template = |images: &Value| {
        run(
            &service,
            Operation::ExtractTemplate,
            &json!({"sample": images}),
        )
    };
    let (finger_images, all_images) = (record(&finger), record(&all));
    let (finger_template, all_templates) = (template(&finger_images), template(&all_images));
    let body = |sample: &Value, reference: &Value| json!({"sample": sample, "gallery": [reference], "modalitiesToMatch": [], "flags": {}});
    let (few, many) = if quick { (5, 50) } else { (30, 2000) };
    let budget = Duration::from_secs(if quick { 5 } else { 30 });
    case(
        "finger-images",
        &service,
        &body(&finger_images, &finger_images),
        few,
        budget,
    );
    case(
        "finger-image-vs-template",
        &service,
        &body(&finger_images, &finger_template),
        few,
        budget,
    );
    case(
        "finger-templates",
        &service,
        &body(&finger_template, &finger_template),
        many,
        budget,
    );
    case(
        "all-images",
        &service,
        &body(&all_images, &all_images),
        few.min(10),
        budget,
    );
    case(
        "all-templates",
        &service,
        &body(&all_templates, &all_templates),
        many / 4,
        budget,
    );
}
