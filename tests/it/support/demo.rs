//! The demo registry, built once per backend and copied into each test's database.
//!
//! Building a 3,000-person demo is the slowest part of a test's set-up, and nextest runs every
//! test in its own process, so a static in memory would not be shared. The first test that asks
//! builds the demo and publishes it; the others copy it:
//! - SQLite: a self-contained file (`VACUUM INTO`) in the temporary folder, copied per test;
//! - PostgreSQL: a database used as a template, `CREATE DATABASE … TEMPLATE` per test.
//!
//! The cache is keyed by the `vongdoi` binary (its size and modification time) and the demo's
//! arguments, so a rebuilt binary builds a new demo and an old one is never reused. Two tests
//! that start together may both build it; publishing is a rename, so one wins and nothing is
//! half-written.

use super::{vongdoi, TestDb};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Fills `db` (fresh and empty) with the registry `vongdoi <args>` makes.
pub fn fill(db: &TestDb, args: &[&str]) {
    let key = cache_key(args);
    match db.backend {
        "sqlite" => fill_sqlite(db, args, &key),
        _ => block_on(fill_postgres(db, args, &key)),
    }
}

/// `BINARY_ARGS`: which binary (its size and modification time) and which demo.
fn cache_key(args: &[&str]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    args.hash(&mut h);
    format!("{}_{:08x}", binary_key(), h.finish() as u32)
}

fn binary_key() -> String {
    let exe = Path::new(env!("CARGO_BIN_EXE_vongdoi"));
    let meta = std::fs::metadata(exe).expect("the vongdoi binary");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meta.len().hash(&mut h);
    meta.modified().ok().hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// The tests run inside a tokio runtime already; the database calls here get their own.
fn block_on<F: std::future::Future<Output = ()> + Send>(f: F) {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .join()
        .unwrap()
    })
}

fn build(db: &TestDb, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = vongdoi(db, dir.path(), args);
    assert!(ok, "{}: vongdoi {args:?} failed: {err}", db.backend);
}

fn fill_sqlite(db: &TestDb, args: &[&str], key: &str) {
    let folder = std::env::temp_dir().join("vongdoi-it-demo");
    std::fs::create_dir_all(&folder).unwrap();
    let cached = folder.join(format!("demo-{key}.db"));
    if !cached.exists() {
        let fresh = block_on_value(super::sqlite());
        build(&fresh, args);
        // VACUUM INTO writes one self-contained file: nothing left in a -wal beside it.
        let part = folder.join(format!("demo-{key}.{}.part", std::process::id()));
        let _ = std::fs::remove_file(&part);
        let url = fresh.url.clone();
        let target = part.display().to_string().replace('\'', "''");
        block_on(async move {
            let mut c = SqliteConnection::connect(&url).await.unwrap();
            c.execute(format!("VACUUM INTO '{target}'").as_str())
                .await
                .unwrap();
        });
        std::fs::rename(&part, &cached).unwrap();
        forget_others(&folder);
    }
    let path = PathBuf::from(db.url.trim_start_matches("sqlite://"));
    std::fs::copy(&cached, path).unwrap();
}

/// Demos of earlier binaries are deleted when a new one is published (best effort); this
/// binary's other demos stay, since tests beside this one copy them.
fn forget_others(folder: &Path) {
    let ours = format!("demo-{}_", binary_key());
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = p.extension().is_some_and(|e| e == "db") && !name.starts_with(&ours);
        if old {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn block_on_value<T: Send, F: std::future::Future<Output = T> + Send>(f: F) -> T {
    let mut out = None;
    block_on(async { out = Some(f.await) });
    out.unwrap()
}

async fn fill_postgres(db: &TestDb, args: &[&str], key: &str) {
    let (admin, name) = db.pg_admin.clone().expect("a PostgreSQL test database");
    let template = format!("vongdoi_demo_{key}");
    let mut c = PgConnection::connect(&admin).await.unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut c)
        .await
        .unwrap();
    if exists.is_none() {
        let fresh = super::postgres(&admin).await;
        let (_, built) = fresh.pg_admin.clone().unwrap();
        build(&fresh, args);
        // The demo's connections may still be closing: the rename waits for them.
        let renamed = retry(
            &mut c,
            &format!("ALTER DATABASE {built} RENAME TO {template}"),
        )
        .await;
        if renamed {
            // The built database is the template now: nothing left for the guard to drop.
            std::mem::forget(fresh);
            // Templates of earlier binaries go (best effort: one still being copied stays);
            // this binary's other demos are in use by the tests running beside this one.
            let old: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'vongdoi_demo_%' AND datname NOT LIKE $1",
            )
            .bind(format!("vongdoi_demo_{}_%", binary_key()))
            .fetch_all(&mut c)
            .await
            .unwrap_or_default();
            for name in old {
                let _ = c
                    .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
                    .await;
            }
        }
    }
    // Every test database is created empty; this one is made again as a copy of the demo.
    c.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    assert!(
        retry(
            &mut c,
            &format!("CREATE DATABASE {name} TEMPLATE {template}")
        )
        .await,
        "postgres: could not copy the demo template {template}"
    );
}

/// Runs a statement that fails while another session is on the database, a few times.
async fn retry(c: &mut PgConnection, sql: &str) -> bool {
    for _ in 0..50 {
        match c.execute(sql).await {
            Ok(_) => return true,
            Err(e) if e.to_string().contains("already exists") => return false,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    false
}
