//! The Postgres side of [`Conn`](super::Conn): a `postgres::Client` (the
//! blocking face of tokio-postgres; the grader's database work already runs
//! on blocking threads), a statement cache, the placeholder rewrite, and
//! the mapping between Postgres types and [`Value`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::BytesMut;
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::value::{Row, Value};

pub struct PgConn {
    /// Always `Some` until dropped.
    client: RefCell<Option<Client>>,
    statements: RefCell<HashMap<String, Statement>>,
}

/// Opens a connection; the message says what to check when it fails.
pub fn connect(url: &str) -> Result<PgConn> {
    let mut config: postgres::Config = url.parse().with_context(|| format!("{} is not a Postgres URL", redact(url)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.application_name("distlab-grader");
    let client = off_runtime(|| config.connect(NoTls)).map_err(|e| {
        anyhow!("cannot connect to the database at {}: {} (is the server running, and are the host, port, user, password and database name right?)", redact(url), describe(&e))
    })?;
    Ok(PgConn { client: RefCell::new(Some(client)), statements: RefCell::new(HashMap::new()) })
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}{user}{}@{}",
                &url[..scheme + 3],
                if userinfo.contains(':') { ":***" } else { "" },
                &url[at + 1..]
            )
        }
        _ => url.to_owned(),
    }
}

/// The server's own message when there is one (`postgres::Error`'s Display
/// is only "db error").
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl PgConn {
    fn client(&self) -> std::cell::RefMut<'_, Client> {
        std::cell::RefMut::map(self.client.borrow_mut(), |c| c.as_mut().expect("a client until dropped"))
    }

    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let mut guard = self.client();
        let client: &mut Client = &mut guard;
        let stmt = off_runtime(|| client.prepare(&translate(sql))).map_err(|e| wrap(e, sql))?;
        self.statements.borrow_mut().insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    pub fn execute(&self, sql: &str, values: &[Value]) -> Result<usize> {
        let stmt = self.statement(sql)?;
        let mut guard = self.client();
        let client: &mut Client = &mut guard;
        let n = off_runtime(|| client.execute(&stmt, &refs(values))).map_err(|e| wrap(e, sql))?;
        Ok(n as usize)
    }

    pub fn rows(&self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let mut guard = self.client();
        let client: &mut Client = &mut guard;
        let rows = off_runtime(|| client.query(&stmt, &refs(values))).map_err(|e| wrap(e, sql))?;
        rows.iter()
            .map(|r| {
                Ok(Row((0..r.len())
                    .map(|i| r.try_get::<_, Value>(i))
                    .collect::<Result<_, _>>()
                    .map_err(|e| wrap(e, sql))?))
            })
            .collect()
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        let mut guard = self.client();
        let client: &mut Client = &mut guard;
        off_runtime(|| client.batch_execute(sql)).map_err(|e| wrap(e, sql))
    }

    pub fn is_usable(&self) -> bool {
        !self.client().is_closed()
    }

    /// Waits up to `timeout` for a notification on a channel this
    /// connection listens on; true if one (or more) came. What else
    /// arrived is drained, so one wake covers a burst.
    pub fn wait_notification(&self, timeout: Duration) -> Result<bool> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut guard = self.client();
        let client: &mut Client = &mut guard;
        off_runtime(|| {
            let mut notes = client.notifications();
            let failed = |e: postgres::Error| anyhow!("waiting for notifications: {}", describe(&e));
            let got = notes.timeout_iter(timeout).next().map_err(failed)?.is_some();
            while notes.iter().next().map_err(failed)?.is_some() {}
            Ok(got)
        })
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the client blocks on its runtime too.
        if let Some(client) = self.client.get_mut().take() {
            off_runtime(move || drop(client));
        }
    }
}

/// The blocking client runs its own runtime and panics inside another
/// one. Handlers reach the database through `blocking`, never on the
/// runtime; an async test that touches it directly gets a thread here.
fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(f).join().expect("database call panicked"))
    } else {
        f()
    }
}

fn refs(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn wrap(e: postgres::Error, sql: &str) -> anyhow::Error {
    let what = describe(&e);
    anyhow::Error::new(e).context(format!("{what}\n  in: {}", sql.trim().lines().next().unwrap_or("")))
}

/// Rewrites the shared dialect for Postgres: `?N` placeholders become
/// `$N`, and SQLite's `unixepoch()` the same instant from the server's
/// clock (leases compare times from many machines: one clock decides).
/// Quoted text and identifiers are left alone.
pub fn translate(sql: &str) -> String {
    let sql = sql.replace("unixepoch()", "CAST(floor(extract(epoch FROM clock_timestamp())) AS BIGINT)");
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next_anonymous = 1;
    while let Some(ch) = chars.next() {
        match quote {
            Some(q) => {
                out.push(ch);
                if ch == q {
                    quote = None;
                }
            }
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                out.push(ch);
            }
            None if ch == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next_anonymous.to_string();
                    next_anonymous += 1;
                }
                out.push('$');
                out.push_str(&digits);
            }
            None => out.push(ch),
        }
    }
    out
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // The server inferred each parameter's type from the statement;
        // write the value as that type.
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), t) if is_text(t) => i.to_string().as_str().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Text(s), t) if is_text(t) => s.as_str().to_sql(ty, out),
            (Value::Text(s), &Type::BYTEA) => s.as_bytes().to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, t) => Err(format!("a parameter {v:?} where the statement wants {t}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_text(t: &Type) -> bool {
    matches!(*t, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN)
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => Value::Real(numeric(raw)?),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            ref t if is_text(t) => Value::Text(String::from_sql(ty, raw)?),
            ref t => return Err(format!("a column of type {t}: cast it to BIGINT, DOUBLE PRECISION or TEXT").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NUMERIC's binary form (what sum() and avg() of integers return): a
/// count of base-10000 digits, the weight of the first, the sign, the
/// display scale, then the digits.
fn numeric(raw: &[u8]) -> Result<f64, Box<dyn Error + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
        raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "short NUMERIC".into())
    };
    let (ndigits, weight, sign) = (word(0)? as usize, word(1)? as i16, word(2)?);
    if sign == 0xC000 {
        return Ok(f64::NAN);
    }
    let mut value = 0.0;
    for i in 0..ndigits {
        value += word(4 + i)? as f64 * 10000f64.powi(weight as i32 - i as i32);
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(translate("SELECT a FROM t WHERE x = ?1 AND y = ?12"), "SELECT a FROM t WHERE x = $1 AND y = $12");
        assert_eq!(translate("SELECT '?1', \"a?\" FROM t WHERE x = ?"), "SELECT '?1', \"a?\" FROM t WHERE x = $1");
        assert!(translate("SELECT unixepoch()").contains("clock_timestamp()"));
    }

    #[test]
    fn numeric_digits_in_base_10000() {
        // 12345.6789: digits 1, 2345, 6789 with weight 1; positive.
        let raw: Vec<u8> = [3u16, 1, 0, 4, 1, 2345, 6789].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert!((numeric(&raw).unwrap() - 12345.6789).abs() < 1e-9);
        let neg: Vec<u8> = [1u16, 0, 0x4000, 0, 7].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(numeric(&neg).unwrap(), -7.0);
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
