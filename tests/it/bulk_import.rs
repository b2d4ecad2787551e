//! Issue #14 point 5: a citizen import into an empty registry loads in bulk (secondary indexes
//! dropped and built after, SQLite's C API or PostgreSQL's COPY). It must leave the same rows,
//! the same indexes as the migrations made and the same error report as the ordinary upsert
//! path that a registry of more than `BULK_MAX_STORED` citizens takes.

use crate::support as common;
use crate::support::TestDb;
use common::vongdoi;
use std::fs;

const HEADER: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language,village,address";

/// Good rows, bad rows, a link to nobody, a link to an earlier line, and one citizen twice (the
/// second time changed: an update with history, in a later batch of the bulk load).
fn mixed_csv(repeat_after: usize) -> String {
    let mut s = format!("{HEADER}\n");
    s.push_str("001190000001,Trần Thị Lan,F,1990-04-02,,00004,HK1,,,,0912345678,lan@example.vn,vi,Thôn 1,Số 2\n");
    s.push_str(
        "001225000002,Nguyễn Văn An,M,2025-01-31,,00004,HK1,001190000001,001088000009,,,,vi,,\n",
    );
    s.push_str("00122500000X,Lê Văn Sai,M,2025-03-01,,00004,,,,,,,vi,,\n");
    s.push_str("001225000004,Lê Thị Bốn,F,2025-03-01,,99999,,,,,,,vi,,\n");
    s.push_str("001225000005,Phạm Văn Năm,M,2025-13-01,,00004,,,,,,,vi,,\n");
    for i in 0..repeat_after {
        s.push_str(&format!(
            "0012240{:05},Đỗ Văn Đệm,M,2024-05-01,,00004,HK9,,,,,,vi,,\n",
            i
        ));
    }
    s.push_str("001190000001,Trần Thị Lan,F,1990-04-02,,00004,HK2,,,,0912345678,lan@example.vn,en,Thôn 3,Số 2\n");
    s
}

/// Citizens enough that the registry is no longer "nearly empty".
fn filler_csv() -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..=vongdoi::store::BULK_MAX_STORED {
        s.push_str(&format!(
            "0011800{:05},Hoàng Văn Độn,M,1980-03-01,,00004,,,,,,,vi,,\n",
            i
        ));
    }
    s
}

/// The citizens' indexes and whether a bulk load left any recorded as deferred.
async fn indexes(db: &TestDb) -> (Vec<String>, i64) {
    if db.backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let defs = sqlx::query_scalar(
            "SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'citizens' ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let deferred =
            sqlx::query_scalar("SELECT count(*) FROM app_meta WHERE key LIKE 'deferred%'")
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        (defs, deferred)
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let defs = sqlx::query_scalar(
            "SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'citizens' AND schemaname = current_schema() ORDER BY indexname",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let deferred =
            sqlx::query_scalar("SELECT count(*) FROM app_meta WHERE key LIKE 'deferred%'")
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        (defs, deferred)
    }
}

/// The file's citizens as the registry shows them: the exported rows and each one's history.
fn stored(db: &TestDb, dir: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let out = dir.join("export.csv");
    let (ok, _, err) = vongdoi(db, dir, &["export", "citizens", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let rows: Vec<String> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("00118"))
        .map(str::to_string)
        .collect();
    let (ok, show, err) = vongdoi(
        db,
        dir,
        &["citizen", "show", "001190000001", "--format", "json"],
    );
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&show).unwrap();
    let history = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{} {} → {}", h["field"], h["old_value"], h["new_value"]))
        .collect();
    (rows, history)
}

async fn a_bulk_import_into_an_empty_registry_matches_the_ordinary_import(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = vongdoi(&db, dir.path(), &["migrate"]);
    assert!(ok, "{err}");
    let migrated = indexes(&db).await;
    assert_eq!(migrated.1, 0);
    assert!(migrated.0.len() > 2, "{:?}", migrated.0);
    // More rows than a batch between the two rows of one citizen: the second is in a later
    // batch, so the bulk load meets a registered citizen and upserts that batch.
    let file = dir.path().join("mixed.csv");
    fs::write(&file, mixed_csv(50_001)).unwrap();
    let import = |db: &TestDb, errors: &str| {
        let report = dir.path().join(errors);
        let (ok, out, err) = vongdoi(
            db,
            dir.path(),
            &[
                "import",
                "citizens",
                file.to_str().unwrap(),
                "--errors",
                report.to_str().unwrap(),
            ],
        );
        assert!(ok, "{err}");
        (
            out.replace(errors, "REPORT"),
            fs::read_to_string(report).unwrap(),
        )
    };
    let bulk = import(&db, "bulk-errors.csv");
    assert!(bulk.0.contains("cập nhật/updated 1"), "{}", bulk.0);
    assert_eq!(
        indexes(&db).await,
        migrated,
        "the bulk load rebuilt the indexes as migrated"
    );
    let bulk_rows = stored(&db, dir.path());

    // The same file into a registry too full for a bulk load: the ordinary path.
    let ordinary_db = if db.backend == "sqlite" {
        common::sqlite().await
    } else {
        common::postgres(&common::postgres_admin_url().unwrap()).await
    };
    let filler = dir.path().join("filler.csv");
    fs::write(&filler, filler_csv()).unwrap();
    let (ok, _, err) = vongdoi(
        &ordinary_db,
        dir.path(),
        &["import", "citizens", filler.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let ordinary = import(&ordinary_db, "ordinary-errors.csv");
    assert_eq!(bulk.1, ordinary.1, "the same error report");
    assert!(bulk.1.lines().count() > 3, "{}", bulk.1);
    assert_eq!(bulk.0, ordinary.0, "the same summary");
    assert_eq!(indexes(&ordinary_db).await, migrated);
    assert_eq!(
        bulk_rows,
        stored(&ordinary_db, dir.path()),
        "the same rows and history"
    );
}
on_each_backend!(a_bulk_import_into_an_empty_registry_matches_the_ordinary_import);
