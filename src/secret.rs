//! Secrets from the operating system's random source: API keys, session ids, form tokens and the
//! per-database key of message ids.

use std::io::Read;

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
