//! `vongdoi migrate` and `vongdoi summary`: the database itself — its schema (brought up to
//! date when the store opens, so `migrate` only confirms) and what it holds.

use crate::registry::AdminUnits;
use crate::store::Store;
use anyhow::Result;

/// Every command migrates on opening the store; by the time this runs there is nothing left to do.
pub(super) fn migrate(store: &Store) -> Result<()> {
    println!(
        "cơ sở dữ liệu đã cập nhật / database is up to date ({})",
        store.backend()
    );
    Ok(())
}

/// Counts of the registry; also printed after `vongdoi demo` fills it.
pub(super) async fn print_summary(store: &Store) -> Result<()> {
    let s = store.summary().await?;
    let units = AdminUnits::get();
    println!(
        "Công dân / Citizens        {} (còn sống / living {})",
        s.citizens, s.living
    );
    println!("Hộ / Households            {}", s.households);
    println!("Có điện thoại / With phone {}", s.with_phone);
    println!("Có email / With email      {}", s.with_email);
    println!("Mũi tiêm / Immunizations   {}", s.immunizations);
    println!("Thẻ căn cước / ID cards    {}", s.id_cards);
    if !s.communes.is_empty() {
        println!("Xã đông nhất / Largest communes:");
        for (code, n) in s.communes.iter().take(5) {
            let name = units.commune(code).map(|c| c.name.as_str()).unwrap_or("?");
            println!("  {code} {name:<30} {n}");
        }
    }
    Ok(())
}
