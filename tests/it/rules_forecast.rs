//! The forecast's outside: docs/interface.md's JSON and the readable table.

use crate::support::rules as rules_common;

use rules_common::*;
use serde_json::{json, Value};
use vongdoi::rules::Lang;

#[test]
fn json_has_the_spec_shape() {
    // Born 2025-01-01; PENTA too early on 02-07, then valid on 03-01.
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2025-02-07"), ("PENTA", "2025-03-01")],
        "2025-04-10",
    );
    let doc: Value = serde_json::from_str(&f.to_json("001225012345", d("2025-04-10"))).unwrap();
    assert_eq!(doc["personal_id"], "001225012345");
    assert_eq!(doc["as_of"], "2025-04-10");
    let items = doc["items"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| items.iter().find(|i| pred(i)).unwrap().clone();

    let dtp2 = find(&|i| i["series"] == "dtp" && i["dose"] == 2);
    // earliest = 03-01 + 4 weeks = 03-29; due = 04-01; overdue 05-01; expires 2030-01-01.
    for (field, value) in [
        ("kind", json!("vaccination")),
        ("status", json!("due")),
        ("earliest", json!("2025-03-29")),
        ("due", json!("2025-04-01")),
        ("overdue", json!("2025-05-01")),
        ("expires", json!("2030-01-01")),
        ("completed_on", Value::Null),
        ("vaccines", json!(["PENTA", "HEXA"])),
    ] {
        assert_eq!(dtp2[field], value, "{field} in {dtp2}");
    }
    assert_eq!(
        dtp2["notices"][0],
        json!({"template": "vaccination-due-soon", "on": "2025-03-29"})
    );
    assert!(dtp2["name_vi"].as_str().unwrap().contains("mũi 2"));

    let dtp3 = find(&|i| i["series"] == "dtp" && i["dose"] == 3);
    assert_eq!(dtp3["status"], "waiting");
    for field in ["earliest", "due", "overdue", "expires", "completed_on"] {
        assert_eq!(dtp3[field], Value::Null, "{field}");
    }

    let card = find(&|i| i["kind"] == "id-card" && i["milestone"] == 60);
    assert_eq!(card["expires"], Value::Null);
    assert_eq!(card["status"], "upcoming");
    let school = find(&|i| i["kind"] == "school" && i["level"] == "grade-1");
    assert_eq!(school["earliest"], "2031-05-01");

    assert_eq!(
        doc["invalid_doses"],
        json!([{"series": "dtp", "dose": 1, "vaccine": "PENTA", "date_given": "2025-02-07", "reason": "too early"}])
    );
    // Field order as in docs/interface.md.
    let text = f.to_json("001225012345", d("2025-04-10"));
    let pos = |s: &str| text.find(s).unwrap();
    assert!(pos("\"personal_id\"") < pos("\"as_of\"") && pos("\"as_of\"") < pos("\"items\""));
    assert!(pos("\"kind\"") < pos("\"series\"") && pos("\"status\"") < pos("\"earliest\""));
}

#[test]
fn forecast_without_the_document_fields() {
    let f = forecast(&child("2025-01-01"), &[], "2025-02-01");
    let value = serde_json::to_value(&f).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["invalid_doses", "items"]);
}

#[test]
fn tables_in_both_languages() {
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2025-02-01"), ("BCG", "2025-01-02")],
        "2025-03-20",
    );
    let vi = f.to_table(Lang::default());
    assert!(vi.starts_with("Mục"), "{vi}");
    assert!(
        vi.contains("Trạng thái") && vi.contains("đã xong") && vi.contains("chờ mũi trước"),
        "{vi}"
    );
    assert!(vi.contains("tiêm quá sớm"), "{vi}");
    assert_eq!(
        vi.lines().filter(|l| l.contains("Bạch hầu")).count(),
        4,
        "{vi}"
    );
    let en = f.to_table(Lang::En);
    assert!(
        en.starts_with("Item") && en.contains("too early") && en.contains("Tuberculosis"),
        "{en}"
    );
    // Columns line up: the status column starts at the same character in every row.
    let heading = vi.lines().next().unwrap();
    let status_at = heading.chars().position(|c| c == 'T').unwrap();
    for line in vi.lines().skip(2).take_while(|l| !l.is_empty()) {
        let chars: Vec<char> = line.chars().collect();
        assert_eq!(chars[status_at - 1], ' ', "{line}");
        assert_ne!(chars[status_at], ' ', "{line}");
    }
}
