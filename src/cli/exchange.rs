//! `vongdoi import` and `vongdoi export`: the registry in and out as CSV (docs/interface.md
//! formats), through `crate::exchange`.

use super::progress_bar;
use crate::clock::today_in_vietnam;
use crate::exchange::export::export_citizens;
use crate::exchange::import::{ErrorReport, ImportKind, Importer};
use crate::rules::RuleSet;
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

#[derive(Args)]
pub(super) struct ImportArgs {
    kind: ImportKind,
    file: PathBuf,
    /// Write every problem as CSV `line,personal_id,field,reason` here.
    #[arg(long)]
    errors: Option<PathBuf>,
    /// Print phones, emails and personal IDs in the problems shown on the terminal
    /// unmasked (by default masked: terminal output ends up in cron logs).
    #[arg(long)]
    show_names: bool,
}

#[derive(Args)]
pub(super) struct ExportArgs {
    what: ExportWhat,
    file: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportWhat {
    Citizens,
}

impl ImportArgs {
    /// Bad rows go to the error report, good rows land.
    pub(super) async fn run(self, store: &Store, rules: &RuleSet) -> Result<()> {
        let (kind, file, errors, show_names) = (
            self.kind,
            &self.file,
            self.errors.as_deref(),
            self.show_names,
        );
        let label = file.display().to_string();
        let input = File::open(file).with_context(|| format!("{label}: cannot open the file"))?;
        let len = input.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress_bar(len, "bytes");
        let input = bar.wrap_read(BufReader::with_capacity(1 << 16, input));
        let mut report = match errors {
            Some(path) => {
                ErrorReport::to_csv(Box::new(BufWriter::new(File::create(path).with_context(
                    || format!("cannot create the error report {}", path.display()),
                )?)))?
            }
            None => ErrorReport::to_stderr(&label, show_names),
        };
        let importer = Importer {
            store,
            source: format!(
                "import:{}",
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(label.clone())
            ),
            file_label: label.clone(),
            today: today_in_vietnam(),
            now: Utc::now(),
        };
        let summary = importer
            .import(
                kind,
                input,
                &mut report,
                rules.vaccine_codes().map(str::to_string).collect(),
            )
            .await?;
        report.finish()?;
        bar.finish_and_clear();
        println!("{label}: {summary}");
        if summary.problems > 0 {
            match errors {
                Some(path) => println!(
                    "{} vấn đề ghi tại/problems written to {}",
                    summary.problems,
                    path.display()
                ),
                None => println!(
                    "{} vấn đề (xem trên) / problems (above); --errors OUT.csv writes them all",
                    summary.problems
                ),
            }
        }
        Ok(())
    }
}

impl ExportArgs {
    pub(super) async fn run(self, store: &Store) -> Result<()> {
        let ExportArgs {
            what: ExportWhat::Citizens,
            file,
        } = self;
        // `-` writes to standard output, for pipes; the closing line then goes to stderr.
        if file.as_os_str() == "-" {
            let n = export_citizens(store, BufWriter::new(std::io::stdout().lock())).await?;
            eprintln!("đã xuất/exported {n} công dân/citizens");
        } else {
            let out = BufWriter::new(
                File::create(&file).with_context(|| format!("cannot create {}", file.display()))?,
            );
            let n = export_citizens(store, out).await?;
            println!(
                "đã xuất/exported {n} công dân/citizens → {}",
                file.display()
            );
        }
        Ok(())
    }
}
