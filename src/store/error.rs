//! What can go wrong in the store, and how a database error is told apart: a data error (the
//! row itself was refused, so writing fewer rows can succeed) or a deadline that passed.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL '{0}' is not understood: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    #[error("cannot open the database: {0}. Check DATABASE_URL / --database-url, that the server runs and the user may connect")]
    Connect(#[source] sqlx::Error),
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A statement ran past PostgreSQL's `statement_timeout`, or no connection was free in
    /// time: the database is overloaded or a lock is held; the work is safe to run again.
    #[error("cơ sở dữ liệu không trả lời kịp / the database did not answer in time: {0}")]
    Timeout(String),
    #[error("the database holds a value this version cannot read ({0}); was it edited by hand?")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether the database refused the data itself (a constraint, a value it cannot hold, a
    /// size limit) rather than failing to run: only then can writing fewer rows succeed.
    /// PostgreSQL SQLSTATE classes 22 (data exception: a NUL is 22021), 23 (integrity) and 54
    /// (program limit: an index row too large); SQLite TOOBIG, CONSTRAINT and MISMATCH.
    pub fn is_data_error(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return false;
        };
        let Some(code) = e.code() else { return false };
        if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some()
        {
            return ["22", "23", "54"]
                .iter()
                .any(|class| code.starts_with(class));
        }
        code.parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 18..=20))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::PoolTimedOut => StoreError::Timeout(
                "no database connection came free within 30 s (the pool's acquire timeout)".into(),
            ),
            // 57014 query_canceled: what `statement_timeout` raises.
            sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => {
                StoreError::Timeout(format!(
                    "{} (statement_timeout; raise VONGDOI_DB_STATEMENT_TIMEOUT_SECONDS if this \
                     statement is legitimately slow)",
                    d.message()
                ))
            }
            _ => StoreError::Database(e),
        }
    }
}
