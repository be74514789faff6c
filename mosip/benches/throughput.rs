//! Insert + Identify pairs per second through a real ActiveMQ broker with the embedded engine,
//! and where the adapter's time went (fetch, decrypt, extract, insert, search).
//!
//! `cargo bench -p abis-mosip --bench throughput -- [PAIRS]` (default 10). Each pair is a new
//! registration of MOSIP's test-vector person (its fingers and irises re-captured with their
//! own noise, nine usable fingers, two irises, a face), sent as a JMS TextMessage by the MOSIP
//! stand-in, then an Identify of it against the whole gallery, waited for before the next
//! pair, as MOSIP's registration processor does for one registration. Needs ActiveMQ and a JDK
//! (`.ci/setup.sh`), the models (`scripts/fetch-models.sh`) and `../shared/data`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Instant;

fn main() {
    let pairs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("PAIRS is a number"))
        .unwrap_or(10);
    assert!(
        shared("mosip/cbeff.p12").is_some() && models_installed() && broker_installed(),
        "needs ../shared/data, the models (scripts/fetch-models.sh) and ActiveMQ (.ci/setup.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"));
    let share = Datashare::start();
    let adapter = start_adapter(&dir.path().join("abis"), &broker, &share);
    let mut mosip = Mosip::connect(&broker);
    let vector = std::fs::read(shared("mosip/encrypted-datashare.txt").unwrap()).unwrap();
    let xml = abis_mosip::datashare::decrypt(&vector, &abis_key()).unwrap();
    let urls: Vec<String> = (0..pairs)
        .map(|i| {
            let packet = recaptured_packet_seeded(&xml, 1000 * i as u32);
            share.put(&format!("r{i}"), Share::Payload(encrypt(&packet)))
        })
        .collect();
    let mut insert_ms = Vec::new();
    let mut identify_ms = Vec::new();
    let started = Instant::now();
    for (i, url) in urls.iter().enumerate() {
        let t = Instant::now();
        let reply = mosip.call(Kind::Text, &insert(&format!("i{i}"), &format!("p{i}"), url));
        assert_eq!(reply["returnValue"], "1", "{reply}");
        insert_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let reply = mosip.call(
            Kind::Text,
            &identify(&format!("q{i}"), &format!("p{i}"), None),
        );
        assert_eq!(reply["candidateList"]["count"], i.to_string(), "{reply}");
        identify_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let wall = started.elapsed().as_secs_f64();
    // The adapter's own account of its time, printed when it stops.
    let pid = adapter.process.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let stages = loop {
        let log = std::fs::read_to_string(&adapter.log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("stopping (")) {
            break line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the adapter did not report its timings"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{{\"pairs\":{pairs},\"wall_s\":{wall:.2},\"pairs_per_s\":{:.3},\"insert_p50_ms\":{:.0},\"identify_p50_ms\":{:.0},\"threads\":{}}}",
        pairs as f64 / wall,
        median(&mut insert_ms),
        median(&mut identify_ms),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("adapter: {stages}");
}
