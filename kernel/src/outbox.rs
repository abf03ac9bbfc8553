//! The outbox: every submission is written to disk before it is sent, and
//! removed only once the grader acknowledged it, so a grader that is down or
//! a kernel that dies never loses a student's source. The next `:submit`
//! sends what is still pending first, with the original idempotency key, so
//! a submission the grader did store (but whose answer we missed) is not
//! stored twice.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub exercise: String,
    pub source: String,
    pub idempotency_key: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// The grader the submission is meant for (informational).
    #[serde(default)]
    pub grader: String,
}

/// An entry on disk.
#[derive(Clone, Debug)]
pub struct Pending {
    pub path: PathBuf,
    pub entry: Entry,
}

pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox { dir }
    }

    /// `$XDG_DATA_HOME/distlab/outbox`, else `~/.local/share/distlab/outbox`.
    pub fn default_location() -> Option<Outbox> {
        crate::grader_client::base_dir("XDG_DATA_HOME", ".local/share")
            .map(|d| Outbox::new(d.join("distlab").join("outbox")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store a new submission durably (0600, synced) before it is sent.
    pub fn put(&self, exercise: &str, source: &str, grader: &str) -> std::io::Result<Pending> {
        let key = uuid::Uuid::new_v4().to_string();
        let entry = Entry {
            exercise: exercise.to_owned(),
            source: source.to_owned(),
            idempotency_key: key.clone(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            grader: grader.to_owned(),
        };
        let path = self.dir.join(format!("{key}.json"));
        let text = serde_json::to_string_pretty(&entry).expect("an entry serializes");
        crate::grader_client::write_private(&path, text.as_bytes())?;
        Ok(Pending { path, entry })
    }

    /// Entries not yet acknowledged, oldest first. Unreadable files are
    /// left alone (and reported), never deleted.
    pub fn pending(&self) -> (Vec<Pending>, Vec<String>) {
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return (found, problems);
        };
        for item in dir.flatten() {
            let path = item.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Entry>(&t).map_err(|e| e.to_string()))
            {
                Ok(entry) => found.push(Pending { path, entry }),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        found.sort_by(|a, b| (&a.entry.created, &a.path).cmp(&(&b.entry.created, &b.path)));
        (found, problems)
    }

    /// The grader has the submission: forget it.
    pub fn ack(&self, pending: &Pending) -> std::io::Result<()> {
        match std::fs::remove_file(&pending.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_stay_until_acknowledged() {
        let dir = std::env::temp_dir().join(format!("distlab-outbox-{}", uuid::Uuid::new_v4()));
        let outbox = Outbox::new(dir.clone());
        assert!(outbox.pending().0.is_empty());
        let a = outbox.put("warmup", "fn a() {}", "http://g").unwrap();
        let b = outbox.put("lamport", "fn b() {}", "http://g").unwrap();
        assert_ne!(a.entry.idempotency_key, b.entry.idempotency_key);
        assert_eq!(std::fs::metadata(&a.path).unwrap().permissions().mode() & 0o777, 0o600);
        let (pending, problems) = outbox.pending();
        assert!(problems.is_empty());
        assert_eq!(pending.iter().map(|p| p.entry.exercise.as_str()).collect::<Vec<_>>(), ["warmup", "lamport"]);
        assert_eq!(pending[0].entry, a.entry);
        outbox.ack(&pending[0]).unwrap();
        outbox.ack(&pending[0]).unwrap(); // twice is fine
        let (pending, _) = outbox.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].entry.source, "fn b() {}");
        // A damaged file is reported and kept.
        std::fs::write(dir.join("broken.json"), "{").unwrap();
        let (pending, problems) = outbox.pending();
        assert_eq!((pending.len(), problems.len()), (1, 1));
        assert!(dir.join("broken.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
