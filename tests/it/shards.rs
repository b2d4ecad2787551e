//! A day's shards and the citizens' next checks at the store's level, on both backends: a
//! lease left by a process that ended on this machine is taken at once, one held from another
//! machine only when it runs out (the lease is made short for the test, never moved by hand),
//! a page of an instance that lost its shard is refused whole, and a change made to a citizen
//! while they were being evaluated keeps its mark.

use crate::support::TestDb;

use chrono::{Duration, NaiveDate, Utc};
use vongdoi::registry::{CitizenRow, Immunization, PersonalId};
use vongdoi::runtime::liveness;
use vongdoi::store::runs::PassKind;
use vongdoi::store::scan::Selection;
use vongdoi::store::shards::{NextCheck, PageWrite, ShardClaim};
use vongdoi::store::Store;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn open(db: &TestDb) -> Store {
    Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.backend))
}

async fn leases_of_ended_processes_are_taken_at_once_and_others_run_out(db: TestDb) {
    let b = db.backend;
    let Some(table) = liveness::process_table() else {
        return; // not Linux: only running out applies, tested below
    };
    let store = open(&db).await;
    let as_of = day("2026-11-21");
    store
        .open_day(as_of, PassKind::Incremental, "rules", 100, Utc::now())
        .await
        .unwrap();
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    let pid = ended.id();
    ended.wait().unwrap();
    let dead = format!("host-{pid}-abcd1234@{table}");
    let me = format!("host-{}-abcd1234@{table}", std::process::id());
    let lease = || Utc::now() + Duration::seconds(60);
    let claim = |owner: String, until| {
        let store = &store;
        async move {
            store
                .claim_shard(as_of, &owner, until, Utc::now(), liveness::is_gone)
                .await
                .unwrap()
        }
    };
    assert!(
        matches!(claim(dead.clone(), lease()).await, ShardClaim::Claimed(_)),
        "{b}"
    );
    let ShardClaim::Claimed(shard) = claim(me.clone(), lease()).await else {
        panic!("{b}: the lease of a process that ended is taken at once");
    };
    // The ended process's page, had it one left, is refused whole.
    let empty = PageWrite {
        checkpoint: None,
        events: &[],
        notices: &[],
        next_checks: &[],
    };
    assert!(
        store
            .commit_page(&shard, &dead, lease(), empty, 1, Utc::now())
            .await
            .is_err(),
        "{b}"
    );

    // Another machine's lease: held until it runs out, then taken.
    let next = day("2026-11-22");
    store
        .open_day(next, PassKind::Incremental, "rules", 100, Utc::now())
        .await
        .unwrap();
    let far = "far-host-42-abcd1234@000000000000".to_string();
    let claim_next = |owner: String, until| {
        let store = &store;
        async move {
            store
                .claim_shard(next, &owner, until, Utc::now(), liveness::is_gone)
                .await
                .unwrap()
        }
    };
    let short = Utc::now() + Duration::milliseconds(800);
    assert!(
        matches!(claim_next(far.clone(), short).await, ShardClaim::Claimed(_)),
        "{b}"
    );
    assert_eq!(
        claim_next(me.clone(), lease()).await,
        ShardClaim::HeldByOthers(vec![far.clone()]),
        "{b}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let ShardClaim::Claimed(taken) = claim_next(me.clone(), lease()).await else {
        panic!("{b}: a lease that ran out is taken over");
    };
    assert!(
        store.finish_shard(&taken, &me, Utc::now()).await.unwrap(),
        "{b}: one shard, so the day is done"
    );
    assert_eq!(claim_next(far, lease()).await, ShardClaim::Finished, "{b}");
}
on_each_backend!(leases_of_ended_processes_are_taken_at_once_and_others_run_out);

async fn a_change_during_evaluation_keeps_its_mark(db: TestDb) {
    let b = db.backend;
    let store = open(&db).await;
    let today = day("2026-11-21");
    let child = CitizenRow {
        personal_id: "001226000002".into(),
        full_name: "Nguyễn Văn An".into(),
        sex: "M".into(),
        date_of_birth: "2026-09-20".into(),
        commune_code: "00004".into(),
        ..Default::default()
    }
    .validate(today)
    .unwrap();
    let pin = child.personal_id;
    store
        .upsert_citizens(&[child], "t", Utc::now())
        .await
        .unwrap();
    let due = |after| Selection::Due {
        first: "",
        end: "",
        as_of: today,
        after,
    };
    let read = store.evaluation_page_of(&due(None), 10).await.unwrap();
    assert_eq!(read.len(), 1, "{b}: a new citizen is due a check");
    assert_eq!(
        read[0].next_check,
        vongdoi::store::scan::marked_date(),
        "{b}"
    );
    // A dose is recorded after the scan read the child and before its page commits.
    store
        .insert_immunizations(
            &[Immunization {
                personal_id: pin,
                vaccine: "BCG".into(),
                date_given: day("2026-09-21"),
                place: None,
                lot: None,
            }],
            "t",
            Utc::now(),
        )
        .await
        .unwrap();
    let as_of = today;
    store
        .open_day(as_of, PassKind::Incremental, "rules", 100, Utc::now())
        .await
        .unwrap();
    let me = vongdoi::runtime::owner_name();
    let lease = Utc::now() + Duration::seconds(60);
    let ShardClaim::Claimed(shard) = store
        .claim_shard(as_of, &me, lease, Utc::now(), liveness::is_gone)
        .await
        .unwrap()
    else {
        panic!("{b}: a free shard");
    };
    let stale = [NextCheck {
        personal_id: pin,
        revision: read[0].revision,
        on: day("2027-01-20"),
    }];
    let page = PageWrite {
        checkpoint: None,
        events: &[],
        notices: &[],
        next_checks: &stale,
    };
    store
        .commit_page(&shard, &me, lease, page, 1, Utc::now())
        .await
        .unwrap();
    let again = store.evaluation_page_of(&due(None), 10).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "{b}: the dose's mark survives the stale evaluation"
    );
    assert_eq!(again[0].doses.len(), 1, "{b}");
    // Evaluated with what is stored now, the check moves on.
    let fresh = [NextCheck {
        personal_id: pin,
        revision: again[0].revision,
        on: day("2027-01-20"),
    }];
    let page = PageWrite {
        checkpoint: None,
        events: &[],
        notices: &[],
        next_checks: &fresh,
    };
    store
        .commit_page(&shard, &me, lease, page, 1, Utc::now())
        .await
        .unwrap();
    assert!(
        store
            .evaluation_page_of(&due(None), 10)
            .await
            .unwrap()
            .is_empty(),
        "{b}"
    );
    let later = Selection::Due {
        first: "",
        end: "",
        as_of: day("2027-01-20"),
        after: None,
    };
    assert_eq!(
        store.evaluation_page_of(&later, 10).await.unwrap().len(),
        1,
        "{b}: due again on its day"
    );
    let _ = PersonalId::parse("001226000002").unwrap();
}
on_each_backend!(a_change_during_evaluation_keeps_its_mark);
