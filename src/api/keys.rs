//! API keys: roles, areas, the key material. A key is 32 random bytes from the operating
//! system, printed once as `vd_` + 64 hex digits; the store keeps only its SHA-256 hash, so a
//! copy of the database lets nobody in.

use crate::registry::AdminUnits;
pub use crate::registry::Scope;
pub use crate::secret::random_hex;
use crate::store::access::ApiKeyRow;
use sha2::{Digest, Sha256};

/// What a key may do (issue #6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Reads and edits the registry in its area.
    Registrar,
    /// Vaccination lists, forecasts and immunization records in its area.
    Health,
    /// Enrolment forecasts and other counts, never a person.
    Education,
    /// The audit trail and delivery status.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Registrar,
        Role::Health,
        Role::Education,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Registrar => "registrar",
            Role::Health => "health",
            Role::Education => "education",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles that see the whole country by nature (and may not be narrowed to an area).
    pub fn is_national(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Admin => "quản trị",
            Role::Registrar => "hộ tịch",
            Role::Health => "y tế",
            Role::Education => "giáo dục",
            Role::Auditor => "kiểm tra",
        }
    }
}

/// A key as the API works with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name or the person's username (one namespace: the audit's "who").
    pub name: String,
    pub role: Role,
    pub scope: Scope,
    pub principal: Principal,
}

/// Who is behind a caller: a machine's key, or a person's account (`api::accounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Key,
    Person {
        full_name: String,
        /// Signed in with a one-time password: nothing but changing it is allowed.
        must_change: bool,
    },
}

impl KeyInfo {
    /// None for a revoked key or one whose stored role this version does not know.
    pub fn from_row(row: &ApiKeyRow) -> Option<KeyInfo> {
        if row.revoked_at.is_some() {
            return None;
        }
        Some(KeyInfo {
            name: row.name.clone(),
            role: Role::parse(&row.role)?,
            scope: Scope {
                provinces: Scope::split(&row.provinces),
                communes: Scope::split(&row.communes),
            },
            principal: Principal::Key,
        })
    }
}

/// Lowercase hex SHA-256: how keys and session ids are stored.
pub fn sha256_hex(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A checked name, role and area: what a key or a person's account is granted.
pub struct Grant {
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

/// Checks a requested name (letters, digits, `- _ . @`), role and area, for a key or an account.
pub fn grant(
    name: &str,
    role: Role,
    provinces: &[String],
    communes: &[String],
    national: bool,
) -> anyhow::Result<Grant> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        anyhow::bail!("tên chỉ gồm chữ, số và - _ . @ (tối đa 64) / a name is letters, digits and - _ . @ (at most 64)");
    }
    let units = AdminUnits::get();
    let mut scope = Scope::default();
    for p in provinces {
        let p = p.trim();
        let code = if p.len() == 1 {
            format!("0{p}")
        } else {
            p.to_string()
        };
        if units.province(&code).is_none() {
            anyhow::bail!("mã tỉnh '{p}' không tồn tại / province code '{p}' does not exist (2-digit 2025 code)");
        }
        scope.provinces.insert(code);
    }
    for c in communes {
        let code = crate::registry::CommuneCode::parse(c).map_err(|e| anyhow::anyhow!(e))?;
        scope.communes.insert(code.as_str().to_string());
    }
    if role.is_national() && !scope.everywhere() {
        anyhow::bail!(
            "vai trò {} không giới hạn theo địa bàn / the {} role is not limited to an area: drop --province/--commune",
            role.as_str(),
            role.as_str()
        );
    }
    if !role.is_national() && scope.everywhere() && !national {
        anyhow::bail!(
            "vai trò {} cần --province hoặc --commune (hoặc --national cho toàn quốc) / the {} role needs --province or --commune (or --national for the whole country)",
            role.as_str(),
            role.as_str()
        );
    }
    Ok(Grant {
        name: name.to_string(),
        role,
        scope,
    })
}

/// Checks a requested key and returns the stored row and the key to print once.
pub fn new_key(
    name: &str,
    role: Role,
    provinces: &[String],
    communes: &[String],
    national: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(ApiKeyRow, String)> {
    let Grant { name, role, scope } = grant(name, role, provinces, communes, national)?;
    let key = format!("vd_{}", random_hex()?);
    let row = ApiKeyRow {
        name,
        role: role.as_str().to_string(),
        provinces: Scope::join(&scope.provinces),
        communes: Scope::join(&scope.communes),
        key_hash: sha256_hex(&key),
        created_at: now,
        revoked_at: None,
    };
    Ok((row, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn keys_are_random_and_scoped() {
        let now = chrono::Utc::now();
        let (a, ka) = new_key("a", Role::Health, &[], &["00004".into()], false, now).unwrap();
        let (_, kb) = new_key("b", Role::Health, &[], &["00004".into()], false, now).unwrap();
        assert_ne!(ka, kb);
        assert_eq!(ka.len(), 67);
        assert_eq!(a.key_hash, sha256_hex(&ka));
        assert!(!a.key_hash.contains(&ka[3..]));
        let info = KeyInfo::from_row(&a).unwrap();
        assert!(info.scope.contains_commune("00004"));
        assert!(!info.scope.contains_commune("00008"));
        assert!(
            new_key("c", Role::Health, &[], &[], false, now).is_err(),
            "unscoped health key needs --national"
        );
        assert!(new_key("d", Role::Admin, &["01".into()], &[], false, now).is_err());
        assert!(new_key("bad name", Role::Admin, &[], &[], false, now).is_err());
        assert!(new_key("e", Role::Health, &["99".into()], &[], false, now).is_err());
    }
}
