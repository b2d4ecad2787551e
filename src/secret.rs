//! Secrets from the operating system's random source: API keys, session ids, form tokens and the
//! per-database key of message ids.

use std::io::Read;

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Random bytes from the operating system.
fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A one-time password a person can read aloud and type on a phone: 12 letters and digits
/// without look-alikes (no 0/o, 1/l/i), in three groups (`k7qm-3xva-p2ht`, about 59 bits).
pub fn one_time_password() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut chars = Vec::with_capacity(12);
    while chars.len() < 12 {
        // Rejection keeps every character equally likely (248 = 8 × 31).
        let accepted = random_bytes::<32>()?.into_iter().filter(|b| *b < 248);
        chars.extend(accepted.map(|b| ALPHABET[(b % 31) as usize] as char));
    }
    let groups: Vec<String> = chars[..12].chunks(4).map(|g| g.iter().collect()).collect();
    Ok(groups.join("-"))
}

/// An Argon2id hash of a password (a PHC string with its own random salt and parameters), so a
/// copy of the database does not give anyone's password away. The default parameters (19 MiB,
/// 2 passes) cost tens of milliseconds on the 2-core machine: a sign-in stays under 200 ms.
pub fn hash_password(password: &str) -> std::io::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Does the password match the stored hash? A malformed hash matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_their_own_salt_and_verify() {
        let a = hash_password("mật khẩu của tôi").unwrap();
        let b = hash_password("mật khẩu của tôi").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a salt of its own");
        assert!(verify_password("mật khẩu của tôi", &a));
        assert!(!verify_password("mat khau cua toi", &a));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn one_time_passwords_are_readable_and_differ() {
        let p = one_time_password().unwrap();
        assert_eq!(p.len(), 14, "{p}");
        assert_eq!(p.matches('-').count(), 2, "{p}");
        assert!(p
            .chars()
            .all(|c| c == '-' || "abcdefghjkmnpqrstuvwxyz23456789".contains(c)));
        assert_ne!(p, one_time_password().unwrap());
    }
}
