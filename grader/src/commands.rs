//! What each CLI subcommand does; `main.rs` only parses and dispatches.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::db::{Db, Target};
use crate::prepare::{prepare, PrepareOptions, Prepared, Progress};
use crate::server::{serve, ServeOptions};
use crate::worker::{self, Grader};
use crate::{auth, gradebook, queue, roster};

/// The slot users (bwrap resolves binds as them) must be able to traverse
/// every directory above the prepared one: under a 0700 state dir (as
/// `mktemp -d` makes) every compile fails with "bwrap: Can't find source
/// path ...: Permission denied". Only as root: otherwise sandboxes run as
/// the current user. Directories not made yet are checked by the next run.
pub fn check_sandbox_can_reach(root: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let abs = std::path::absolute(root).with_context(|| format!("resolving {}", root.display()))?;
    for dir in abs.ancestors().collect::<Vec<_>>().into_iter().rev() {
        let Ok(meta) = std::fs::metadata(dir) else { break };
        // Slot users are neither owner nor group of the state dirs: "other" counts.
        if meta.is_dir() && meta.mode() & 0o001 == 0 {
            anyhow::bail!(
                "the sandbox users cannot reach {}: {} is mode {:o}, which others cannot traverse; run \
                 `chmod o+x {}` (it lists nothing: others still cannot read the directory), or keep the \
                 prepared directory elsewhere",
                abs.display(),
                dir.display(),
                meta.mode() & 0o7777,
                dir.display()
            );
        }
    }
    Ok(())
}

/// Prepares with a spinner showing cargo's progress.
pub fn prepare_with_progress(workspace: &Path, root: &Path) -> Result<Prepared> {
    check_sandbox_can_reach(root)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(100));
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {prefix}: {wide_msg}")?);
    let mut on = |p: Progress| match p {
        Progress::Step(s) => bar.set_prefix(s),
        Progress::Cargo(line) => bar.set_message(line),
    };
    let prepared = prepare(&PrepareOptions { workspace: workspace.to_path_buf(), root: root.to_path_buf() }, &mut on)?;
    bar.finish_and_clear();
    Ok(prepared)
}

/// The prepared directory, prepared now if it never was; refused if it was
/// prepared from other course sources or another rustc than this grader's
/// (re-preparing is the admin's call: see grader/README.md).
pub fn load_or_prepare(workspace: &Path, root: &Path) -> Result<Prepared> {
    check_sandbox_can_reach(root)?;
    if !root.join(crate::prepare::MANIFEST).exists() {
        eprintln!("preparing {} (once)", root.display());
        return prepare_with_progress(workspace, root);
    }
    crate::stamp::ensure_current(root, workspace)?;
    Prepared::load(root)
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

pub struct ServeArgs {
    pub db: Target,
    pub addr: SocketAddr,
    pub workers: Option<usize>,
    pub prepared: PathBuf,
    pub workspace: PathBuf,
    pub rate_per_minute: usize,
    pub cache: PathBuf,
    pub http: crate::server::HttpLimits,
}

pub fn serve_command(a: ServeArgs) -> Result<()> {
    let workers = a.workers.unwrap_or_else(default_workers);
    let prepared = if workers > 0 { Some(load_or_prepare(&a.workspace, &a.prepared)?) } else { None };
    serve(ServeOptions {
        db: a.db,
        addr: a.addr,
        workers,
        prepared,
        rate_per_minute: a.rate_per_minute,
        cache_dir: a.cache,
        http: a.http,
    })
}

pub fn roster_import(db: &Target, csv: &Path, tokens: &Path) -> Result<()> {
    let db = Db::open(db.clone())?;
    let issued = roster::import(&db, csv, tokens)?;
    println!("imported {} student(s); each token is shown once and saved in its file (mode 0600):", issued.len());
    for i in &issued {
        println!("{}\t{}\t{}", i.id, i.token, i.token_file.display());
    }
    Ok(())
}

pub fn instructor_add(db: &Target, name: &str, password_stdin: bool) -> Result<()> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ; nothing was stored");
        first
    };
    let db = Db::open(db.clone())?;
    auth::add_instructor(&db, name, &password)?;
    println!("instructor {name} can log in at /login");
    Ok(())
}

pub fn export(db: &Target, csv: &Path) -> Result<()> {
    let db = Db::open(db.clone())?;
    let n = db.with(|c| gradebook::export_csv(c, csv))?;
    println!("wrote {} ({n} students)", csv.display());
    Ok(())
}

pub struct RegradeArgs {
    pub db: Target,
    pub exercise: Option<String>,
    pub prepared: PathBuf,
    pub workspace: PathBuf,
    pub workers: Option<usize>,
    pub cache: PathBuf,
}

/// Queues the submissions again and grades them here, with a progress bar
/// (a running server's workers may take some of them: claims are atomic).
pub fn regrade(a: RegradeArgs) -> Result<()> {
    if let Some(e) = &a.exercise {
        anyhow::ensure!(crate::catalogue::spec(e).is_some(), "there is no exercise {e:?}");
    }
    let db = Arc::new(Db::open(a.db.clone())?);
    let scope = a.exercise.clone().map_or(queue::RegradeScope::All, queue::RegradeScope::Exercise);
    let queued = db.with(|c| queue::enqueue_regrade(c, &scope, "(command line)"))?.queued;
    let total = db.with(|c| queue::pending(c))? as u64;
    println!("{queued} submission(s) queued for regrading");
    if total == 0 {
        return Ok(());
    }
    let prepared = load_or_prepare(&a.workspace, &a.prepared)?;
    let n = a.workers.unwrap_or_else(default_workers);
    let grader = Arc::new(Grader::new(Arc::clone(&db), prepared, n, &a.cache)?);
    let workers = worker::spawn(Arc::clone(&grader), n);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} graded, {elapsed} ({eta} left)")?);
    loop {
        let left = db.with(|c| queue::pending(c))? as u64;
        bar.set_position(total.saturating_sub(left));
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish();
    grader.stop();
    for w in workers {
        let _ = w.join();
    }
    std::io::stdout().flush()?;
    Ok(())
}

pub struct WorkerArgs {
    pub db: Target,
    pub prepared: PathBuf,
    pub workers: Option<usize>,
    pub cache: PathBuf,
}

/// Grading only, no HTTP: takes jobs from the shared database until SIGINT
/// or SIGTERM, then finishes the jobs in hand and stops. The prepared
/// directory must exist and match this grader (it is never prepared here:
/// a worker machine may have no course workspace).
pub fn worker_command(a: WorkerArgs) -> Result<()> {
    let prepared = load_prepared(&a.prepared)?;
    let db = Arc::new(Db::open(a.db.clone())?);
    let n = a.workers.unwrap_or_else(default_workers).max(1);
    if unsafe { libc::geteuid() } == 0 {
        // Worker processes of one machine share its slot users: make one
        // per core at least, so they seldom wait for each other's slots.
        crate::sandbox::user::ensure_slot_users(n.max(default_workers()))?;
    }
    let grader = Arc::new(Grader::new(Arc::clone(&db), prepared, n, &a.cache)?);
    let threads = worker::spawn(Arc::clone(&grader), n);
    // The line scripts and tests wait for.
    println!("grading with {n} worker(s) from {}", a.db);
    std::io::stdout().flush()?;
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(crate::server::shutdown_signal());
    eprintln!("stopping: finishing the jobs in hand");
    grader.stop();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// A prepared directory that exists and fits this grader, or why not.
fn load_prepared(root: &Path) -> Result<Prepared> {
    check_sandbox_can_reach(root)?;
    anyhow::ensure!(
        root.join(crate::prepare::MANIFEST).exists(),
        "{} is not a prepared directory: run `distlab-grader prepare --prepared {}` on this machine (or copy one \
         prepared by the same grader build) before starting workers",
        root.display(),
        root.display()
    );
    crate::stamp::ensure_current(root, Path::new("."))?;
    Prepared::load(root)
}

/// `migrate`: copies the gradebook `from` into the empty database `to`.
pub fn migrate_db(from: &Target, to: &Target) -> Result<()> {
    anyhow::ensure!(from != to, "--from and --to are the same database");
    if let Target::Sqlite(path) = from {
        anyhow::ensure!(path.exists(), "{} does not exist", path.display());
    }
    let (source, target) = (Db::open(from.clone())?, Db::open(to.clone())?);
    let copied = crate::db::copy::copy(&source, &target, |table, n| println!("{table}: {n} row(s)"))?;
    let rows: usize = copied.0.iter().map(|(_, n)| n).sum();
    println!("copied {rows} row(s) from {from} to {to}; start the grader with --db on the new database");
    Ok(())
}
