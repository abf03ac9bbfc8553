//! The class list: `id,name,email` rows become students with a fresh token
//! each. One parser and validator and one transaction serve both the CLI
//! import (which writes each token once to a private file) and the roster
//! page (which shows each token once and stores none in clear).

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::db::Conn;
use crate::params;
use anyhow::{Context, Result};

use crate::auth::issue_token;
use crate::db::Db;
use crate::deadlines::Invalid;

/// Longest name or email accepted from a roster.
pub const MAX_TEXT: usize = 200;
/// Longest student id.
pub const MAX_ID: usize = 64;

/// One imported student and their new token (the file only from the CLI).
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub name: String,
    pub token: String,
    pub token_file: PathBuf,
}

/// A validated roster row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub email: String,
}

impl Row {
    /// Checks one student (`place` names it in the message, e.g. "row 3").
    pub fn new(place: &str, id: &str, name: &str, email: &str) -> Result<Row, Invalid> {
        let (id, name, email) = (id.trim(), name.trim(), email.trim());
        if id.is_empty() || id.len() > MAX_ID || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(Invalid(format!(
                "{place}: student id {id:?} must be 1 to {MAX_ID} letters, digits, '-', '_' or '.'"
            )));
        }
        if name.is_empty() {
            return Err(Invalid(format!("{place}: student {id} has an empty name")));
        }
        for (what, v) in [("name", name), ("email", email)] {
            if v.len() > MAX_TEXT {
                return Err(Invalid(format!("{place}: the {what} of student {id} is over {MAX_TEXT} bytes")));
            }
            if v.chars().any(char::is_control) {
                return Err(Invalid(format!("{place}: the {what} of student {id} has control characters")));
            }
        }
        Ok(Row { id: id.to_owned(), name: name.to_owned(), email: email.to_owned() })
    }
}

/// Parses and checks a whole roster (header `id,name,email`, in any order,
/// other columns ignored). Any problem is an `Invalid` naming its row
/// (the header is row 1), and nothing is returned.
pub fn parse(bytes: &[u8]) -> Result<Vec<Row>, Invalid> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let row = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(Invalid(format!("row {row} is not UTF-8 text (save the file as CSV UTF-8)")));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Invalid("the file is empty (expected a header id,name,email and one row per student)".into()));
    }
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| Invalid(format!("row 1 (the header) cannot be read: {e}")))?.clone();
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id), Some(name), Some(email)) = (column("id"), column("name"), column("email")) else {
        let missing: Vec<&str> = ["id", "name", "email"].into_iter().filter(|c| column(c).is_none()).collect();
        return Err(Invalid(format!(
            "row 1 (the header) has no {} column (expected id,name,email)",
            missing.join(", no ")
        )));
    };
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let row = e.position().map(|p| p.line()).unwrap_or(0);
            Invalid(format!("row {row}: {} (expected columns id,name,email)", csv_error(&e)))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let place = format!("row {line}");
        let row = Row::new(&place, &record[id], &record[name], &record[email])?;
        if let Some(first) = seen.insert(row.id.clone(), line) {
            return Err(Invalid(format!("{place}: student id {} is already on row {first}", row.id)));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Invalid("the file has a header but no students".into()));
    }
    Ok(rows)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} field(s) where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}

/// Stores `rows` and issues one new token each, in one transaction.
/// Existing students keep their id, get the new name and email, and a new
/// token as well (their old one stays valid). `before_commit` sees the
/// tokens before the commit: an error there stores nothing.
pub fn store(c: &mut Conn, rows: &[Row], before_commit: impl FnOnce(&[Issued]) -> Result<()>) -> Result<Vec<Issued>> {
    let tx = c.transaction()?;
    let mut issued = Vec::new();
    for row in rows {
        tx.execute(
            "INSERT INTO students (id, name, email) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email",
            params![row.id, row.name, row.email],
        )?;
        let token = issue_token(&tx, &row.id)?;
        issued.push(Issued { id: row.id.clone(), name: row.name.clone(), token, token_file: PathBuf::new() });
    }
    before_commit(&issued)?;
    tx.commit()?;
    Ok(issued)
}

/// Adds one new student with a token; an id already on the roster is refused.
pub fn add(c: &mut Conn, row: &Row) -> Result<Issued> {
    let tx = c.transaction()?;
    let exists: Option<i64> = tx.query_opt("SELECT 1 FROM students WHERE id = ?1", [&row.id], |r| r.get(0))?;
    if exists.is_some() {
        return Err(Invalid(format!("student {} is already on the roster", row.id)).into());
    }
    tx.execute("INSERT INTO students (id, name, email) VALUES (?1, ?2, ?3)", params![row.id, row.name, row.email])?;
    let token = issue_token(&tx, &row.id)?;
    tx.commit()?;
    Ok(Issued { id: row.id.clone(), name: row.name.clone(), token, token_file: PathBuf::new() })
}

/// Revokes every token of `student`; returns how many there were.
pub fn revoke(c: &mut Conn, student: &str) -> Result<usize> {
    let tx = c.transaction()?;
    student_name(&tx, student)?;
    let n = tx.execute("DELETE FROM tokens WHERE student_id = ?1", [student])?;
    tx.commit()?;
    Ok(n)
}

/// Revokes every token of `student` and issues one new token, at once.
pub fn reissue(c: &mut Conn, student: &str) -> Result<Issued> {
    let tx = c.transaction()?;
    let name = student_name(&tx, student)?;
    tx.execute("DELETE FROM tokens WHERE student_id = ?1", [student])?;
    let token = issue_token(&tx, student)?;
    tx.commit()?;
    Ok(Issued { id: student.to_owned(), name, token, token_file: PathBuf::new() })
}

fn student_name(c: &Conn, student: &str) -> Result<String> {
    c.query_opt("SELECT name FROM students WHERE id = ?1", [student], |r| r.get(0))?
        .ok_or_else(|| Invalid(format!("there is no student {student:?}")).into())
}

/// A roster line: a student with how many live tokens and submissions.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub email: String,
    pub tokens: i64,
    pub submissions: i64,
}

pub fn list(c: &Conn) -> Result<Vec<Listed>> {
    let rows = c.query_map(
        "SELECT s.id, s.name, s.email, coalesce(t.n, 0), coalesce(x.n, 0) FROM students s
         LEFT JOIN (SELECT student_id, count(*) AS n FROM tokens GROUP BY student_id) t ON t.student_id = s.id
         LEFT JOIN (SELECT student_id, count(*) AS n FROM submissions GROUP BY student_id) x ON x.student_id = s.id
         ORDER BY s.id",
        (),
        |r| Ok(Listed { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, tokens: r.get(3)?, submissions: r.get(4)? }),
    )?;
    Ok(rows)
}

/// The CLI import: `csv_path` (header `id,name,email`). Each token is
/// written once to `<token_dir>/<id>.token` (mode 0600). All rows or none:
/// a bad row stops the import before anything is stored, and files are
/// written before the commit, so no token is stored without its file.
pub fn import(db: &Db, csv_path: &Path, token_dir: &Path) -> Result<Vec<Issued>> {
    let bytes = std::fs::read(csv_path).with_context(|| format!("reading {}", csv_path.display()))?;
    let rows = parse(&bytes).with_context(|| csv_path.display().to_string())?;
    std::fs::create_dir_all(token_dir).with_context(|| format!("creating {}", token_dir.display()))?;
    std::fs::set_permissions(token_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let file = |id: &str| token_dir.join(format!("{id}.token"));
    let issued = db.with(|c| {
        store(c, &rows, |issued| {
            for i in issued {
                write_private(&file(&i.id), &i.token)?;
            }
            Ok(())
        })
    })?;
    Ok(issued.into_iter().map(|i| Issued { token_file: file(&i.id), ..i }).collect())
}

fn write_private(path: &Path, token: &str) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{token}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(csv: &[u8]) -> String {
        parse(csv).unwrap_err().0
    }

    #[test]
    fn bad_rosters_name_their_row() {
        assert!(err(b"").contains("empty"));
        assert!(err(b"id,name,email\n").contains("no students"));
        assert!(err(b"id,name\ns1,Ada\n").contains("no email column"), "{}", err(b"id,name\ns1,Ada\n"));
        assert!(err(b"id,name,email\ns1,Ada,a@x\ns 2,Bob,b@x\n").starts_with("row 3: student id"));
        assert!(err(b"id,name,email\ns1,Ada,a@x\ns1,Bob,b@x\n").contains("row 3: student id s1 is already on row 2"));
        assert!(err(b"id,name,email\ns1,Ada,a@x\ns2,B\xffb,b@x\n").starts_with("row 3 is not UTF-8"));
        assert!(err(b"id,name,email\ns1,Ada\n").starts_with("row 2:"));
    }

    #[test]
    fn a_good_roster_parses_in_any_column_order() {
        let rows = parse("\u{feff}email,ID,name\r\na@x, s1 ,Ada\r\n\r\nb@x,s2,\"Bob, Jr\"\r\n".as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], Row { id: "s2".into(), name: "Bob, Jr".into(), email: "b@x".into() });
    }
}
