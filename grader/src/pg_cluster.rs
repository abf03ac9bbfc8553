//! A throw-away Postgres cluster for tests and benchmarks: `initdb` in a
//! fresh directory, the server on a free local port, trust login for the
//! `distlab` role, gone when the process that started it exits. Never used
//! by `serve` or `worker`; those take a URL to a server an admin runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Cluster {
    dir: PathBuf,
    port: u16,
    child: Child,
}

/// Postgres refuses to run as root: as root, the cluster runs as this user
/// (Debian's package creates it).
const SERVICE_USER: &str = "postgres";

impl Cluster {
    /// Starts a cluster. `durable` keeps fsync on (benchmarks); tests turn
    /// it off, since the cluster dies with them anyway.
    pub fn start(durable: bool) -> Result<Cluster> {
        remove_stale_dirs();
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "distlab-pg-{}-{}",
            std::process::id(),
            crate::auth::random_token()[..8].to_owned()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let user = run_as()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        let data = dir.join("data");
        let out = as_user(Command::new(bin.join("initdb")), user)
            .args(["-D"])
            .arg(&data)
            .args(["-U", "distlab", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port()?;
        let mut cmd = as_user(Command::new(bin.join("postgres")), user);
        cmd.arg("-D").arg(&data).args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"]).arg(&dir);
        cmd.args(["-c", "max_connections=200", "-c", "shared_buffers=64MB"]);
        if !durable {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        cmd.stdout(Stdio::null()).stderr(std::fs::File::create(dir.join("server.log"))?);
        // Dies with the thread that started it (the caller keeps that thread
        // alive for as long as the cluster is needed; see `shared`).
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
        let child = cmd.spawn().context("starting postgres")?;
        let cluster = Cluster { dir, port, child };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// A URL for database `name` of this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://distlab@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(name))
    }

    fn wait_ready(&self) -> Result<()> {
        let start = Instant::now();
        loop {
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                bail!("postgres did not start within 60 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; nothing in a throw-away cluster to keep.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One cluster for the whole process (a test binary), started on first
/// use from a thread that lives until the process exits, so the server
/// outlives every test and dies with the process.
pub fn shared() -> Result<&'static Cluster> {
    static CLUSTER: OnceLock<std::result::Result<&'static Cluster, String>> = OnceLock::new();
    let started = CLUSTER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || match Cluster::start(false) {
            Ok(c) => {
                let c: &'static Cluster = Box::leak(Box::new(c));
                let _ = tx.send(Ok(c));
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                let _ = tx.send(Err(format!("{e:#}")));
            }
        });
        rx.recv().unwrap_or_else(|_| Err("the cluster thread died".into()))
    });
    started.clone().map_err(|e| anyhow::anyhow!("starting a throw-away Postgres: {e}"))
}

/// Where initdb and postgres are: $DISTLAB_PG_BIN, else Debian's newest
/// /usr/lib/postgresql/N/bin, else PATH.
fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DISTLAB_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists());
    on_path.ok_or_else(|| {
        anyhow::anyhow!("initdb not found: install PostgreSQL (apt-get install postgresql) or set DISTLAB_PG_BIN")
    })
}

fn run_as() -> Result<Option<(u32, u32)>> {
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new(SERVICE_USER)?;
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        bail!("running as root, and there is no `{SERVICE_USER}` user to run Postgres as (install the postgresql package)");
    }
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

fn as_user(mut cmd: Command, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
        cmd.env("HOME", "/tmp");
    }
    cmd
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Clusters of test processes that are gone (killed before their drop).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("distlab-pg-")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if unsafe { libc::kill(pid, 0) } != 0 && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
