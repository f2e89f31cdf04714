//! One connection pool for the process, SQLite or PostgreSQL, chosen by the URL's scheme.
//!
//! Queries go through sqlx's `Any` driver with `$N` placeholders, which both SQLite and
//! PostgreSQL accept, so every repository is written once. Migrations differ only where the
//! dialects must (identity columns), in `migrations/sqlite` and `migrations/postgres`.
use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    Any, AnyPool, Connection, Executor, Transaction,
    any::AnyPoolOptions,
    postgres::PgConnection,
    sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode},
};

use domain::FieldErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (the message says why and what would be allowed).
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error("{0}")]
    Invalid(FieldErrors),
    /// The change would break error-level checklist rules; nothing was written.
    #[error("the change breaks {}", domain::counted(.0.len(), "checklist rule"))]
    Rejected(Vec<domain::Finding>),
    #[error(
        "DATABASE_URL must start with sqlite: (for example sqlite://data/gatehouse.db) or postgres://"
    )]
    UnsupportedUrl,
    #[error("could not create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored {what} could not be read back: {source}")]
    Corrupt {
        what: String,
        source: serde_json::Error,
    },
    /// Something that should not happen (a stored value that does not parse, hashing
    /// failing); logged, never shown.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    /// Whether the database was too busy to answer in time: SQLite still locked after the
    /// busy timeout, PostgreSQL a lock timeout, serialization failure or deadlock, or no
    /// connection free in the pool. Not a fault: the same request succeeds a moment later.
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::PoolTimedOut) => true,
            DbError::Sqlx(sqlx::Error::Database(e)) => {
                let code = e.code().unwrap_or_default();
                // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) and their extended codes;
                // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
                let sqlite = code.parse::<i64>().is_ok_and(|code| matches!(code & 0xff, 5 | 6));
                sqlite || matches!(code.as_ref(), "40001" | "40P01" | "55P03")
            }
            _ => false,
        }
    }

    /// Whether a write failed on a UNIQUE constraint (the row is taken).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// Whether a write failed on a foreign key (the row it refers to is gone, or a row still
    /// refers to the one deleted).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }
}

#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    plans: std::sync::Arc<super::plan::Plans>,
}

impl Database {
    /// Connects, creating the SQLite file (and its directory) when it does not exist yet,
    /// and runs the migrations.
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url).await?,
            Backend::Postgres => {
                let mut connection = PgConnection::connect(url).await?;
                sqlx::migrate!("../../migrations/postgres").run(&mut connection).await?;
                connection.close().await?;
                url.to_owned()
            }
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        connection
                            .execute(
                                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                                 PRAGMA synchronous = NORMAL;",
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Database { pool, backend, plans: Default::default() })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The latest snapshot of the stored plan, shared by this database's users.
    pub(crate) fn plans(&self) -> &super::plan::Plans {
        &self.plans
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction whose first step takes the write lock on SQLite (so a busy
    /// database is waited for, up to the busy timeout, instead of failing on a read-to-write
    /// upgrade). On PostgreSQL writers run in parallel and meet on row locks and keys.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Answers when the database does: used by `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the directory and file, switches the file to WAL (a property of the file, so
/// once is enough), migrates, and returns the URL the pool should use.
async fn prepare_sqlite(url: &str) -> Result<String, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let filename = options.get_filename().to_path_buf();
    if let Some(dir) = filename.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let mut connection = SqliteConnection::connect_with(&options).await?;
    sqlx::migrate!("../../migrations/sqlite").run(&mut connection).await?;
    connection.close().await?;
    Ok(format!("sqlite://{}", filename.display()))
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    (!file.as_os_str().is_empty() && file != Path::new(":memory:")).then(|| file.to_path_buf())
}

fn create_dir(dir: &Path) -> Result<(), DbError> {
    std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
        path: dir.display().to_string(),
        source,
    })
}

/// The current time as stored in the database: RFC 3339 in UTC, which sorts as text.
pub fn now_text() -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|now| now.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}
