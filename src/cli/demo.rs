//! `vongdoi demo`: fills the database with a realistic synthetic registry (same seed, same
//! registry), with each commune's health station, police post and schools, then prints its
//! summary.

use super::{database::print_summary, parse_date_arg, progress_bar};
use crate::clock::today_in_vietnam;
use crate::demo::{self, Area, DemoOptions};
use crate::store::Store;
use anyhow::Result;
use chrono::{NaiveDate, Utc};
use clap::Args;

#[derive(Args)]
pub(super) struct DemoArgs {
    /// Exactly this many citizens.
    #[arg(long, default_value_t = 10_000)]
    population: u64,
    /// The same seed gives the same registry.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Province (2-digit 2025 code) whose first communes hold the population.
    #[arg(long, default_value = "01", conflicts_with_all = ["communes", "national"])]
    province: String,
    /// These communes (5-digit codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    communes: Vec<String>,
    /// Spread over every commune of the country.
    #[arg(long)]
    national: bool,
    /// The registry's "today" (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
}

impl DemoArgs {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        let area = if self.national {
            Area::National
        } else if !self.communes.is_empty() {
            Area::Communes(self.communes)
        } else {
            Area::Province(self.province)
        };
        let opts = DemoOptions {
            population: self.population,
            seed: self.seed,
            area,
            as_of: self.as_of.unwrap_or_else(today_in_vietnam),
        };
        let started = std::time::Instant::now();
        let bar = progress_bar(opts.population, "người/people");
        let counts = demo::generate(store, &opts, Utc::now(), |n| bar.set_position(n)).await?;
        bar.finish_and_clear();
        let facilities = demo::facilities::fill(store, &opts, Utc::now()).await?;
        tracing::info!(
            citizens = counts.citizens,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo registry written"
        );
        println!(
            "sổ mẫu/demo registry: {} công dân/citizens, {} mũi tiêm/immunizations, {} thẻ căn cước/ID cards, {} cơ sở/facilities ({:.1} s)",
            counts.citizens,
            counts.immunizations,
            counts.id_cards,
            facilities,
            started.elapsed().as_secs_f64()
        );
        print_summary(store).await
    }
}
