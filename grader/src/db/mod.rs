//! The gradebook's database: an embedded SQLite file (the default) or a
//! Postgres server (a course graded on many machines). Callers get a
//! [`Conn`] from the small pool in [`Db`] and write SQL once; see `conn`
//! for the shared dialect, `sqlite` and `postgres_schema` for the two
//! ladders of the same schema.

mod conn;
pub mod copy;
mod postgres;
mod postgres_schema;
mod sqlite;
mod value;

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;

pub use conn::{Backend, Conn, Tx};
pub use postgres::redact;
pub use value::{FromValue, Params, Row, ToValue, Value};

/// Where the gradebook lives, as `--db` gives it: a `postgres://` (or
/// `postgresql://`) URL, else a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    pub fn parse(s: &str) -> Target {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Target::Postgres(s.to_owned())
        } else {
            Target::Sqlite(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sqlite(p) => write!(f, "{}", p.display()),
            Target::Postgres(url) => write!(f, "{}", redact(url)),
        }
    }
}

impl From<&std::path::Path> for Target {
    fn from(p: &std::path::Path) -> Target {
        Target::Sqlite(p.to_path_buf())
    }
}

impl From<PathBuf> for Target {
    fn from(p: PathBuf) -> Target {
        Target::Sqlite(p)
    }
}

impl From<&PathBuf> for Target {
    fn from(p: &PathBuf) -> Target {
        Target::Sqlite(p.clone())
    }
}

/// Connections kept idle for reuse.
const IDLE: usize = 16;
/// Postgres connections one process holds at most (the server's default
/// `max_connections` is 100, shared by the API server and every worker
/// process); more callers wait for one to come back. SQLite has no server
/// to exhaust.
pub const POSTGRES_CONNECTIONS: usize = 20;

/// A handle on the database; cheap to share (`Arc<Db>`).
pub struct Db {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    /// Connections handed out now (pooled ones are not counted).
    in_use: Mutex<usize>,
    returned: std::sync::Condvar,
}

impl Db {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub fn open(target: impl Into<Target>) -> Result<Db> {
        let target = target.into();
        if let Target::Sqlite(path) = &target {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
            }
        }
        let db = Db { target, idle: Mutex::new(Vec::new()), in_use: Mutex::new(0), returned: Default::default() };
        let mut conn = db.connect()?;
        match &mut conn {
            Conn::Sqlite(c) => sqlite::migrate(c)?,
            Conn::Postgres(c) => postgres_schema::migrate(c)?,
        }
        db.idle.lock().unwrap().push(conn);
        Ok(db)
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }

    /// A new connection, outside the pool (a listener that holds one).
    pub fn connect(&self) -> Result<Conn> {
        Ok(match &self.target {
            Target::Sqlite(path) => Conn::Sqlite(sqlite::connect(path)?),
            Target::Postgres(url) => Conn::Postgres(Box::new(postgres::connect(url)?)),
        })
    }

    /// Runs `f` on a pooled connection (blocking: call from a worker or a
    /// `spawn_blocking` task, never on the async runtime). A connection
    /// that broke (a Postgres restart) is dropped, not pooled.
    pub fn with<R>(&self, f: impl FnOnce(&mut Conn) -> Result<R>) -> Result<R> {
        let _permit = self.permit();
        let pooled = self.idle.lock().unwrap().pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&mut conn);
        if conn.is_usable() {
            let mut idle = self.idle.lock().unwrap();
            if idle.len() < IDLE {
                idle.push(conn);
            }
        }
        out
    }

    /// Waits while this process holds `POSTGRES_CONNECTIONS` connections.
    fn permit(&self) -> Option<Permit<'_>> {
        if self.backend() != Backend::Postgres {
            return None;
        }
        let mut n = self.in_use.lock().unwrap();
        while *n >= POSTGRES_CONNECTIONS {
            n = self.returned.wait(n).unwrap();
        }
        *n += 1;
        Some(Permit(self))
    }

    /// Blocks up to `timeout` for a queued job's notification on `conn`
    /// (Postgres, after `LISTEN distlab_jobs`); SQLite has none, so it
    /// sleeps. True if a notification came.
    pub fn wait_for_jobs(conn: &Conn, timeout: std::time::Duration) -> Result<bool> {
        match conn {
            Conn::Postgres(c) => c.wait_notification(timeout),
            Conn::Sqlite(_) => {
                std::thread::sleep(timeout);
                Ok(false)
            }
        }
    }
}

struct Permit<'a>(&'a Db);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.in_use.lock().unwrap() -= 1;
        self.0.returned.notify_one();
    }
}

/// Now as RFC 3339 (UTC, second precision is not enough for ordering, so
/// microseconds).
pub fn now_rfc3339() -> String {
    rfc3339(chrono::Utc::now())
}

/// The one time format of the gradebook: fixed width and UTC, so text order
/// is time order in SQL comparisons.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Seconds since the epoch (sessions).
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
