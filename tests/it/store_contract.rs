//! One contract, two backends: every scenario runs on SQLite and on PostgreSQL.

use crate::support as common;
use crate::support::TestDb;

use chrono::{NaiveDate, TimeZone, Utc};
use vongdoi::registry::{Citizen, CitizenRow, IdCardRecord, Immunization, PersonalId};
use vongdoi::store::{Channel, Store, UpsertCounts};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap()
}

fn citizen(pin: &str, name: &str, sex: &str, dob: &str, mother: &str) -> Citizen {
    CitizenRow {
        personal_id: pin.into(),
        full_name: name.into(),
        sex: sex.into(),
        date_of_birth: dob.into(),
        commune_code: "00004".into(),
        household_id: "HK1".into(),
        mother_id: mother.into(),
        phone: if mother.is_empty() {
            "0912345678".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
    .validate(today())
    .unwrap()
}

fn family() -> Vec<Citizen> {
    vec![
        citizen("001190000001", "Trần Thị Lan", "F", "1990-04-02", ""),
        citizen(
            "001225000002",
            "Nguyễn Văn An",
            "M",
            "2025-01-31",
            "001190000001",
        ),
        citizen(
            "001326000003",
            "Nguyễn Thị Bình",
            "F",
            "2026-02-28",
            "001190000001",
        ),
    ]
}

fn pin(s: &str) -> PersonalId {
    PersonalId::parse(s).unwrap()
}

async fn open(db: &common::TestDb) -> Store {
    Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.backend))
}

async fn upsert_inserts_then_changes_nothing_then_records_history(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    let counts = store
        .upsert_citizens(&family(), "import:a.csv", now())
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 3,
            updated: 0,
            unchanged: 0
        },
        "{b}"
    );
    let again = store
        .upsert_citizens(&family(), "import:a.csv", now())
        .await
        .unwrap();
    assert_eq!(
        again,
        UpsertCounts {
            inserted: 0,
            updated: 0,
            unchanged: 3
        },
        "{b}"
    );

    let mut changed = family();
    changed[0].phone = None;
    changed[0].full_name = "Trần Thị Lan Anh".into();
    let counts = store
        .upsert_citizens(&changed, "import:b.csv", now())
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 0,
            updated: 1,
            unchanged: 2
        },
        "{b}"
    );

    let stored = store.citizen(pin("001190000001")).await.unwrap().unwrap();
    assert_eq!(stored.citizen, changed[0], "{b}");
    assert_eq!(stored.created_by, "import:a.csv", "{b}");
    let history = store.history_of(pin("001190000001")).await.unwrap();
    let fields: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.field.as_str(),
                h.old_value.as_deref(),
                h.new_value.as_deref(),
                h.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            (
                "full_name",
                Some("Trần Thị Lan"),
                Some("Trần Thị Lan Anh"),
                "import:b.csv"
            ),
            ("phone", Some("+84912345678"), None, "import:b.csv"),
        ],
        "{b}"
    );
    assert!(
        store
            .history_of(pin("001225000002"))
            .await
            .unwrap()
            .is_empty(),
        "{b}"
    );
    store.close().await;
}
on_each_backend!(upsert_inserts_then_changes_nothing_then_records_history);

async fn migrating_twice_is_harmless_and_seeds_every_commune(db: TestDb) {
    let store = open(&db).await;
    store.migrate().await.unwrap();
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.summary().await.unwrap().citizens, 3, "{}", db.backend);
    store.close().await;
    // A second process opening the same database sees the same registry.
    let again = open(&db).await;
    assert_eq!(again.summary().await.unwrap().citizens, 3, "{}", db.backend);
    again.close().await;
}
on_each_backend!(migrating_twice_is_harmless_and_seeds_every_commune);

async fn the_same_record_twice_is_stored_once(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    let child = pin("001225000002");
    let dose = |v: &str, d: &str| Immunization {
        personal_id: child,
        vaccine: v.into(),
        date_given: d.parse().unwrap(),
        place: Some("Trạm Y tế phường Ba Đình".into()),
        lot: None,
    };
    let doses = vec![
        dose("HEPB", "2025-01-31"),
        dose("BCG", "2025-02-03"),
        dose("HEPB", "2025-01-31"),
    ];
    assert_eq!(
        store
            .insert_immunizations(&doses, "t", now())
            .await
            .unwrap(),
        2,
        "{b}"
    );
    assert_eq!(
        store
            .insert_immunizations(&doses[..2], "t", now())
            .await
            .unwrap(),
        0,
        "{b}"
    );
    let stored = store.immunizations_of(child).await.unwrap();
    assert_eq!(stored, doses[..2].to_vec(), "{b}");

    let mother = pin("001190000001");
    let cards = vec![
        IdCardRecord {
            personal_id: mother,
            issued_on: "2022-05-01".parse().unwrap(),
        },
        IdCardRecord {
            personal_id: mother,
            issued_on: "2022-05-01".parse().unwrap(),
        },
    ];
    assert_eq!(
        store.insert_id_cards(&cards, "t", now()).await.unwrap(),
        1,
        "{b}"
    );
    assert_eq!(
        store.id_cards_of(mother).await.unwrap(),
        cards[..1].to_vec(),
        "{b}"
    );
    let lives = store
        .lifespans(&[mother, child, pin("001190999999")])
        .await
        .unwrap();
    assert_eq!(lives.len(), 2, "{b}");
    assert_eq!(lives[&child], ("2025-01-31".parse().unwrap(), None), "{b}");
    store.close().await;
}
on_each_backend!(the_same_record_twice_is_stored_once);

async fn keyset_pages_cover_everyone_once_in_order(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    // 25 citizens in 5 pages of 6 (the last short), mixed birth dates and prefixes.
    let people: Vec<Citizen> = (0..25)
        .map(|i| {
            let year = 1950 + (i * 7) % 70;
            let prefix = ["001", "079", "036"][i % 3];
            let d4 = if year >= 2000 { 2 } else { 0 };
            citizen(
                &format!("{prefix}{d4}{:02}{:06}", year % 100, i),
                "Lê Văn Tư",
                "M",
                &format!("{year}-0{}-1{}", 1 + i % 9, i % 10),
                "",
            )
        })
        .collect();
    store.upsert_citizens(&people, "t", now()).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.citizens_by_birth(cursor, 6).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some((last.date_of_birth, last.personal_id));
        seen.extend(page);
    }
    let mut want = people.clone();
    want.sort_by_key(|c| (c.date_of_birth, c.personal_id));
    assert_eq!(seen, want, "{b}: birth order");

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.citizens_by_id(after, 6).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.personal_id);
        seen.extend(page);
    }
    want.sort_by_key(|c| c.personal_id);
    assert_eq!(seen, want, "{b}: personal-ID order");
    store.close().await;
}
on_each_backend!(keyset_pages_cover_everyone_once_in_order);

async fn a_changed_personal_id_takes_records_links_and_history_along(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    let (old, new) = (pin("001190000001"), pin("001190777777"));
    store
        .insert_id_cards(
            &[IdCardRecord {
                personal_id: old,
                issued_on: "2022-05-01".parse().unwrap(),
            }],
            "t",
            now(),
        )
        .await
        .unwrap();
    store
        .change_personal_id(old, new, "re-established", "command", now())
        .await
        .unwrap();
    assert!(store.citizen(old).await.unwrap().is_none(), "{b}");
    assert_eq!(
        store.citizen(new).await.unwrap().unwrap().citizen.full_name,
        "Trần Thị Lan",
        "{b}"
    );
    assert_eq!(store.id_cards_of(new).await.unwrap().len(), 1, "{b}");
    let child = store.citizen(pin("001225000002")).await.unwrap().unwrap();
    assert_eq!(child.citizen.mother_id, Some(new), "{b}");
    let changes = store.id_changes_of(new).await.unwrap();
    assert_eq!(
        (changes.len(), changes[0].old_id.as_str()),
        (1, "001190000001"),
        "{b}"
    );
    // Moving onto an ID that is taken is refused and changes nothing.
    let err = store
        .change_personal_id(new, pin("001225000002"), "x", "command", now())
        .await;
    assert!(err.is_err(), "{b}");
    assert!(store.citizen(new).await.unwrap().is_some(), "{b}");
    store.close().await;
}
on_each_backend!(a_changed_personal_id_takes_records_links_and_history_along);

async fn opting_out_is_stored_and_recorded(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    let mother = pin("001190000001");
    assert!(
        store
            .set_opt_out(mother, Channel::Sms, true, "command", now())
            .await
            .unwrap(),
        "{b}"
    );
    assert!(
        store
            .set_opt_out(mother, Channel::Sms, true, "command", now())
            .await
            .unwrap(),
        "{b}"
    );
    let stored = store.citizen(mother).await.unwrap().unwrap();
    assert!(stored.sms_opt_out && !stored.email_opt_out, "{b}");
    assert_eq!(
        store.history_of(mother).await.unwrap().len(),
        1,
        "{b}: setting it twice is one change"
    );
    assert!(
        !store
            .set_opt_out(pin("001190999999"), Channel::Email, true, "c", now())
            .await
            .unwrap(),
        "{b}"
    );
    // Re-importing the registry fields does not undo an opt-out.
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    assert!(
        store.citizen(mother).await.unwrap().unwrap().sms_opt_out,
        "{b}"
    );
    store.close().await;
}
on_each_backend!(opting_out_is_stored_and_recorded);

async fn evaluation_pages_carry_each_citizens_own_records(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    store.upsert_citizens(&family(), "t", now()).await.unwrap();
    let (mother, son, daughter) = (
        pin("001190000001"),
        pin("001225000002"),
        pin("001326000003"),
    );
    let dose = |p: PersonalId, v: &str, d: &str| Immunization {
        personal_id: p,
        vaccine: v.into(),
        date_given: d.parse().unwrap(),
        place: None,
        lot: None,
    };
    store
        .insert_immunizations(
            &[
                dose(daughter, "HEPB", "2026-02-28"),
                dose(son, "PENTA", "2025-04-01"),
                dose(son, "HEPB", "2025-01-31"),
                dose(son, "BCG", "2025-01-31"),
            ],
            "t",
            now(),
        )
        .await
        .unwrap();
    store
        .insert_id_cards(
            &[IdCardRecord {
                personal_id: mother,
                issued_on: "2022-05-01".parse().unwrap(),
            }],
            "t",
            now(),
        )
        .await
        .unwrap();
    let store = std::sync::Arc::new(store);
    let mut scan = vongdoi::store::scan::scan_registry(store.clone(), None, 2);
    let mut pages = Vec::new();
    while let Some(page) = scan.recv().await {
        pages.push(page.unwrap());
    }
    // Resuming from a checkpoint starts after it.
    let resumed = store.evaluation_page(Some(mother), 10).await.unwrap();
    assert_eq!(
        resumed.iter().map(|r| r.personal_id).collect::<Vec<_>>(),
        vec![son, daughter],
        "{b}"
    );
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 1],
        "{b}"
    );
    let all: Vec<_> = pages.into_iter().flatten().collect();
    let ids: Vec<_> = all.iter().map(|r| r.personal_id).collect();
    assert_eq!(
        (all[1].sex, all[1].commune_code.as_str()),
        (vongdoi::registry::Sex::Male, "00004"),
        "{b}"
    );
    assert_eq!(
        all[2].date_of_birth,
        "2026-02-28".parse::<NaiveDate>().unwrap(),
        "{b}"
    );
    assert_eq!(ids, vec![mother, son, daughter], "{b}");
    let doses = |i: usize| {
        all[i]
            .doses
            .iter()
            .map(|d| (d.vaccine.clone(), d.date_given.to_string()))
            .collect::<Vec<_>>()
    };
    assert!(doses(0).is_empty(), "{b}");
    assert_eq!(
        all[0].id_cards,
        vec!["2022-05-01".parse::<NaiveDate>().unwrap()],
        "{b}"
    );
    assert_eq!(
        doses(1),
        vec![
            ("BCG".into(), "2025-01-31".into()),
            ("HEPB".into(), "2025-01-31".into()),
            ("PENTA".into(), "2025-04-01".into())
        ],
        "{b}: in date order"
    );
    assert_eq!(
        doses(2),
        vec![("HEPB".to_string(), "2026-02-28".to_string())],
        "{b}"
    );
    assert!(
        all[1].id_cards.is_empty() && all[2].id_cards.is_empty(),
        "{b}"
    );
    store.close().await;
}
on_each_backend!(evaluation_pages_carry_each_citizens_own_records);

async fn filtered_scans_and_birth_year_counts_read_only_their_range(db: TestDb) {
    let store = open(&db).await;
    let b = db.backend;
    let mut people = family();
    // Twins in another commune, born the same day: the page cursor must split them right.
    for (p, name) in [
        ("001225000010", "Lê Văn Một"),
        ("001225000011", "Lê Văn Hai"),
    ] {
        let mut c = citizen(p, name, "M", "2025-01-31", "");
        c.commune_code = vongdoi::registry::CommuneCode::parse("00008").unwrap();
        people.push(c);
    }
    // Died before the report date: not a living resident.
    let mut gone = citizen("001225000012", "Lê Văn Ba", "M", "2025-06-01", "");
    gone.date_of_death = Some("2026-01-01".parse().unwrap());
    people.push(gone);
    store.upsert_citizens(&people, "t", now()).await.unwrap();
    let store = std::sync::Arc::new(store);
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    let range = |commune: Option<&str>, from: &str, until: &str| vongdoi::store::ScanRange {
        commune: commune.map(|c| vongdoi::registry::CommuneCode::parse(c).unwrap()),
        born_from: day(from),
        born_until: day(until),
    };
    let scan = |ranges: Vec<vongdoi::store::ScanRange>| {
        let store = store.clone();
        async move {
            let mut rx = vongdoi::store::scan::scan_ranges(store, ranges, 1);
            let mut ids = Vec::new();
            while let Some(page) = rx.recv().await {
                ids.extend(page.unwrap().into_iter().map(|r| r.personal_id.to_string()));
            }
            ids
        }
    };
    assert_eq!(
        scan(vec![range(None, "2025-01-01", "2026-12-31")]).await,
        [
            "001225000002",
            "001225000010",
            "001225000011",
            "001225000012",
            "001326000003"
        ],
        "{b}: birth order, then personal ID"
    );
    assert_eq!(
        scan(vec![
            range(Some("00008"), "2025-01-31", "2025-01-31"),
            range(Some("00004"), "2025-01-31", "2026-02-28"),
        ])
        .await,
        [
            "001225000010",
            "001225000011",
            "001225000002",
            "001225000012",
            "001326000003"
        ],
        "{b}: one commune after the other, both ends included"
    );
    assert!(
        scan(vec![range(Some("00025"), "1900-01-01", "2026-12-31")])
            .await
            .is_empty(),
        "{b}"
    );

    let counts = store
        .living_by_commune_birth_year(None, 1990, 2025, today())
        .await
        .unwrap();
    let got: Vec<_> = counts
        .iter()
        .map(|c| (c.commune_code.as_str(), c.birth_year, c.living))
        .collect();
    assert_eq!(
        got,
        [("00004", 1990, 1), ("00004", 2025, 1), ("00008", 2025, 2)],
        "{b}: the dead and the 2026 birth are not counted"
    );
    let only = [vongdoi::registry::CommuneCode::parse("00008").unwrap()];
    let counts = store
        .living_by_commune_birth_year(Some(&only), 1990, 2026, day("2025-12-31"))
        .await
        .unwrap();
    assert_eq!(counts.len(), 1, "{b}");
    assert_eq!(counts[0].living, 2, "{b}");
    // As of a day before the death, the third child was alive.
    let counts = store
        .living_by_commune_birth_year(None, 2025, 2025, day("2025-12-31"))
        .await
        .unwrap();
    assert_eq!(counts.iter().map(|c| c.living).sum::<i64>(), 4, "{b}");

    let mut found: Vec<String> = store
        .citizens_by_ids(&[
            pin("001225000011"),
            pin("001190000001"),
            pin("001299999999"),
        ])
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.citizen.full_name)
        .collect();
    found.sort();
    assert_eq!(found, ["Lê Văn Hai", "Trần Thị Lan"], "{b}");
    store.close().await;
}
on_each_backend!(filtered_scans_and_birth_year_counts_read_only_their_range);
