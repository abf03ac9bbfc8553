//! `distlab-grader` command line: parses and dispatches; the work is in
//! `distlab_grader::commands`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use distlab_grader::commands;
use distlab_grader::{compile, run, CompileOptions, Prepared, RunOptions, SlotPool};

#[derive(Parser)]
#[command(version, about = "distlab grading service")]
struct Cli {
    /// Prepared directory (toolchain copy, course rlib, manifest).
    #[arg(long, global = true, default_value = "var/prepared")]
    prepared: PathBuf,
    /// The gradebook: a SQLite file, or a postgres://user:password@host/db URL.
    /// Give a URL with a password in DISTLAB_DB, where `ps` does not show it.
    #[arg(long, global = true, default_value = "var/distlab.db", env = "DISTLAB_DB")]
    db: String,
    /// Cache of compiled submissions.
    #[arg(long, global = true, default_value = "var/cache")]
    cache: PathBuf,
    /// Workspace containing the `distlab` package (for preparing).
    #[arg(long, global = true, default_value = ".")]
    workspace: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the course crate rlib (no `reference` feature) and create the
    /// sandbox users.
    Prepare {
        /// Number of worker slots (one sandbox uid each).
        #[arg(long, default_value_t = 2)]
        slots: usize,
    },
    /// Compile a student main.rs in the sandbox.
    Compile {
        source: PathBuf,
        #[arg(short, long, default_value = "main")]
        output: PathBuf,
        #[arg(long, default_value_t = 0)]
        opt_level: u8,
    },
    /// Serve the HTTP API, pages and grading workers.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8700")]
        addr: SocketAddr,
        /// Grading workers (default: one per core; 0 = API only).
        #[arg(long)]
        workers: Option<usize>,
        /// Submissions per student per exercise per minute (0 = no limit).
        #[arg(long, default_value_t = 10)]
        rate_limit: usize,
        /// Seconds to send a request's headers; also how long an idle
        /// keep-alive connection stays open.
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Longest pause (seconds) inside a request body.
        #[arg(long, default_value_t = 10)]
        body_timeout: u64,
        /// Seconds for a whole request, body included (then 408).
        #[arg(long, default_value_t = 60)]
        request_timeout: u64,
        /// Connections open at once (more wait until one closes).
        #[arg(long, default_value_t = 512)]
        max_connections: usize,
    },
    /// Grade only (no HTTP): take jobs from a shared database until stopped.
    /// Run on any machine that has the prepared directory.
    Worker {
        /// Grading workers in this process (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Copy a gradebook into a new, empty database (e.g. SQLite to Postgres),
    /// in one transaction; checks the copy before committing.
    Migrate {
        /// The gradebook now in use (a SQLite file or a URL).
        #[arg(long)]
        from: String,
        /// The new database (a postgres:// URL, or a SQLite file).
        #[arg(long)]
        to: String,
    },
    /// Manage the class list.
    Roster {
        #[command(subcommand)]
        command: RosterCmd,
    },
    /// Manage instructors.
    Instructor {
        #[command(subcommand)]
        command: InstructorCmd,
    },
    /// Write the gradebook as a Canvas-importable CSV.
    Export {
        #[arg(long)]
        csv: PathBuf,
    },
    /// Grade stored submissions again (all, or one exercise's).
    Regrade {
        #[arg(long)]
        exercise: Option<String>,
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Run a compiled submission in the sandbox.
    Run {
        binary: PathBuf,
        /// File fed to the program's stdin.
        #[arg(long)]
        stdin: Option<PathBuf>,
        /// Run it as the grader runs a node host (one process per node).
        #[arg(long)]
        node_host: bool,
    },
    /// Make the student notebooks (and manifest.json) from the instructor notebooks.
    Release(distlab_grader::release::ReleaseArgs),
}

#[derive(Subcommand)]
enum RosterCmd {
    /// Import `id,name,email` rows; prints each new token once.
    Import {
        file: PathBuf,
        /// Where each student's token file (mode 0600) goes.
        #[arg(long, default_value = "var/tokens")]
        tokens: PathBuf,
    },
}

#[derive(Subcommand)]
enum InstructorCmd {
    /// Add (or reset) an instructor; asks for the password twice.
    Add {
        name: String,
        /// Read the password from the first line of stdin (scripts, tests).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let db_target = distlab_grader::db::Target::parse(&cli.db);
    match cli.command {
        Cmd::Prepare { slots } => {
            let prepared = commands::prepare_with_progress(&cli.workspace, &cli.prepared)?;
            SlotPool::system(slots, &prepared.root.join("slots"))?;
            println!("prepared {}", prepared.rlib.display());
            println!("{}", prepared.rustc_version.lines().next().unwrap_or(""));
            let stamp = distlab_grader::stamp::Stamp::read(&prepared.root)?;
            if stamp.is_none_or(|s| s.course_sources != distlab_grader::stamp::Stamp::expected_sources()) {
                eprintln!(
                    "warning: the course sources in {} are not the ones this grader was built from, so `serve` \
                     will refuse this prepared directory: rebuild the grader (cargo build -p distlab-grader), \
                     then prepare again",
                    cli.workspace.display()
                );
            }
        }
        Cmd::Serve { addr, workers, rate_limit, header_timeout, body_timeout, request_timeout, max_connections } => {
            commands::serve_command(commands::ServeArgs {
                db: db_target,
                addr,
                workers,
                prepared: cli.prepared,
                workspace: cli.workspace,
                rate_per_minute: rate_limit,
                cache: cli.cache,
                http: distlab_grader::server::HttpLimits {
                    header_timeout: Duration::from_secs(header_timeout),
                    body_idle_timeout: Duration::from_secs(body_timeout),
                    request_timeout: Duration::from_secs(request_timeout),
                    max_connections,
                },
            })?
        }
        Cmd::Worker { workers } => commands::worker_command(commands::WorkerArgs {
            db: db_target,
            prepared: cli.prepared,
            workers,
            cache: cli.cache,
        })?,
        Cmd::Migrate { from, to } => {
            commands::migrate_db(&distlab_grader::db::Target::parse(&from), &distlab_grader::db::Target::parse(&to))?
        }
        Cmd::Roster { command: RosterCmd::Import { file, tokens } } => {
            commands::roster_import(&db_target, &file, &tokens)?
        }
        Cmd::Instructor { command: InstructorCmd::Add { name, password_stdin } } => {
            commands::instructor_add(&db_target, &name, password_stdin)?
        }
        Cmd::Export { csv } => commands::export(&db_target, &csv)?,
        Cmd::Regrade { exercise, workers } => commands::regrade(commands::RegradeArgs {
            db: db_target,
            exercise,
            prepared: cli.prepared,
            workspace: cli.workspace,
            workers,
            cache: cli.cache,
        })?,
        Cmd::Compile { source, output, opt_level } => {
            let prepared = Prepared::load(&cli.prepared)?;
            let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
            let slot = pool.acquire();
            let src = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
            let opts = CompileOptions { opt_level, ..Default::default() };
            let out = compile(&prepared, slot.user(), &src, &output, &opts)?;
            eprint!("{}", out.diagnostics);
            eprintln!(
                "compile: {:?} limit={:?} wall={:?} cpu={:?}",
                out.sandbox.termination, out.sandbox.limit, out.sandbox.wall, out.sandbox.cpu
            );
            std::process::exit(if out.success() { 0 } else { 1 });
        }
        Cmd::Run { binary, stdin, node_host } => {
            let prepared = Prepared::load(&cli.prepared)?;
            let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
            let slot = pool.acquire();
            let input = match stdin {
                Some(p) => std::fs::read(p)?,
                None => Vec::new(),
            };
            let out = run(&prepared, slot.user(), &binary, &input, &RunOptions { node_host, ..RunOptions::default() })?;
            std::io::stdout().write_all(&out.stdout.bytes)?;
            std::io::stderr().write_all(&out.stderr.bytes)?;
            eprintln!("run: {:?} limit={:?} wall={:?} cpu={:?}", out.termination, out.limit, out.wall, out.cpu);
        }
        Cmd::Release(args) => distlab_grader::release::run(&args)?,
    }
    Ok(())
}
