//! Evaluating a whole registry read from SQLite in personal-ID order (issue 3's speed target:
//! at least 200,000 citizens per second on one core, memory flat).
//!
//!   cargo bench --bench registry_scan                      # 1,000,000 citizens
//!   VONGDOI_BENCH_POPULATION=100000 cargo bench --bench registry_scan
//!
//! The demo registry is built once per size under target/bench/ (a minute or two at 1 M) and
//! reused. Rules are evaluated on one core (the calling thread); the scan task and SQLite's
//! worker thread read the next page on the other meanwhile (`store::scan`). Prints where the
//! time goes: reading pages vs evaluating rules.

use chrono::{NaiveDate, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vongdoi::demo::{self, Area, DemoOptions};
use vongdoi::rules::{DoseRecord, RuleSet, Subject};
use vongdoi::store::scan::scan_registry;
use vongdoi::store::Store;

const PAGE: i64 = 5_000;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let population: u64 = std::env::var("VONGDOI_BENCH_POPULATION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("registry-{population}.db"));
    let url = format!("sqlite://{}", file.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fresh = !file.exists();
        let store = Arc::new(Store::connect(&url).await.unwrap());
        if fresh {
            let started = Instant::now();
            let opts = DemoOptions {
                population,
                seed: 1,
                area: Area::Province("01".into()),
                as_of,
            };
            demo::generate(&store, &opts, Utc::now(), |_| {})
                .await
                .unwrap();
            eprintln!(
                "built {} in {:.1} s",
                file.display(),
                started.elapsed().as_secs_f64()
            );
        }
        let rules = RuleSet::embedded();

        // Pass 1: reading only.
        let started = Instant::now();
        let (mut n, mut after) = (0u64, None);
        loop {
            let page = store.evaluation_page(after, PAGE).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.personal_id);
            n += page.len() as u64;
        }
        let read_only = started.elapsed();

        // Pass 2: reading (one page ahead, on SQLite's thread) and evaluating every shipped
        // rule on this one.
        let started = Instant::now();
        let (mut evaluated, mut items, mut evaluating) = (0u64, 0u64, Duration::ZERO);
        let mut pages = scan_registry(store.clone(), None, PAGE);
        while let Some(page) = pages.recv().await {
            let page = page.unwrap();
            let t = Instant::now();
            for r in &page {
                let doses: Vec<DoseRecord> = r
                    .doses
                    .iter()
                    .map(|d| DoseRecord {
                        vaccine: &d.vaccine,
                        date_given: d.date_given,
                    })
                    .collect();
                let subject = Subject {
                    date_of_birth: r.date_of_birth,
                    date_of_death: r.date_of_death,
                    sex: r.sex,
                    province_code: r.commune_code.province_code(),
                    commune_code: r.commune_code.as_str(),
                };
                items += rules
                    .evaluate(&subject, &doses, &r.id_cards, as_of)
                    .items
                    .len() as u64;
            }
            evaluating += t.elapsed();
            evaluated += page.len() as u64;
        }
        let total = started.elapsed();
        assert_eq!(n, evaluated);
        println!("registry scan, {n} citizens, pages of {PAGE}");
        println!(
            "  read only            {:>7.2} s  {:>9.0} citizens/s",
            read_only.as_secs_f64(),
            n as f64 / read_only.as_secs_f64()
        );
        println!(
            "  read ahead + evaluate{:>7.2} s  {:>9.0} citizens/s  ({items} items)",
            total.as_secs_f64(),
            n as f64 / total.as_secs_f64()
        );
        println!(
            "  of which evaluating  {:>7.2} s  {:>9.0} citizens/s  ({:.2} µs each)",
            evaluating.as_secs_f64(),
            n as f64 / evaluating.as_secs_f64(),
            evaluating.as_secs_f64() * 1e6 / n as f64
        );
        println!("  peak RSS             {:>7.0} MB", peak_rss_mb());
        store.close().await;
    });
}
