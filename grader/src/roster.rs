//! Importing the class list: `id,name,email` rows become students with a
//! fresh token each, written once to a private file per student.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rusqlite::params;

use crate::auth::issue_token;
use crate::db::Db;

/// One imported student and their new token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    pub name: String,
    pub token: String,
    pub token_file: PathBuf,
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    id: String,
    name: String,
    email: String,
}

/// Imports `csv` (header `id,name,email`). Existing students keep their data
/// updated and get a new token as well (the old one stays valid). All rows
/// or none: a bad row stops the import before anything is stored.
pub fn import(db: &Db, csv_path: &Path, token_dir: &Path) -> Result<Vec<Issued>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .with_context(|| format!("reading {}", csv_path.display()))?;
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let row =
            row.with_context(|| format!("{}: row {} (expected columns id,name,email)", csv_path.display(), i + 2))?;
        if row.id.is_empty() || !row.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            bail!(
                "{}: row {}: student id {:?} must be letters, digits, '-', '_' or '.'",
                csv_path.display(),
                i + 2,
                row.id
            );
        }
        rows.push(row);
    }
    std::fs::create_dir_all(token_dir).with_context(|| format!("creating {}", token_dir.display()))?;
    std::fs::set_permissions(token_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let issued = db.with(|c| {
        let tx = c.transaction()?;
        let mut issued = Vec::new();
        for row in &rows {
            tx.execute(
                "INSERT INTO students (id, name, email) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email",
                params![row.id, row.name, row.email],
            )?;
            let token = issue_token(&tx, &row.id)?;
            let token_file = token_dir.join(format!("{}.token", row.id));
            issued.push(Issued { id: row.id.clone(), name: row.name.clone(), token, token_file });
        }
        // Files first, commit last: a failure leaves no token without its file.
        for i in &issued {
            write_private(&i.token_file, &i.token)?;
        }
        tx.commit()?;
        Ok(issued)
    })?;
    Ok(issued)
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
