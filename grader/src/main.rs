//! `distlab-grader` command line. `serve` (HTTP + job queue) comes later and
//! will call `prepare` at start.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use distlab_grader::prepare::Progress;
use distlab_grader::{compile, prepare, run, CompileOptions, PrepareOptions, Prepared, RunOptions, SlotPool};

#[derive(Parser)]
#[command(version, about = "distlab grading service")]
struct Cli {
    /// Prepared directory (toolchain copy, course rlib, manifest).
    #[arg(long, global = true, default_value = "var/prepared")]
    prepared: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the course crate rlib (no `reference` feature) and create the
    /// sandbox users.
    Prepare {
        /// Workspace containing the `distlab` package.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
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
    /// Run a compiled submission in the sandbox.
    Run {
        binary: PathBuf,
        /// File fed to the program's stdin.
        #[arg(long)]
        stdin: Option<PathBuf>,
    },
    /// Make the student notebooks (and manifest.json) from the instructor notebooks.
    Release(distlab_grader::release::ReleaseArgs),
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Cmd::Prepare { workspace, slots } => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            let mut on = |p: Progress| match p {
                Progress::Step(s) => bar.set_prefix(s),
                Progress::Cargo(line) => bar.set_message(line),
            };
            bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {prefix}: {wide_msg}")?);
            let prepared = prepare(&PrepareOptions { workspace, root: cli.prepared }, &mut on)?;
            SlotPool::system(slots, &prepared.root.join("slots"))?;
            bar.finish_and_clear();
            println!("prepared {}", prepared.rlib.display());
            println!("{}", prepared.rustc_version.lines().next().unwrap_or(""));
        }
        Cmd::Compile { source, output, opt_level } => {
            let prepared = Prepared::load(&cli.prepared)?;
            let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
            let slot = pool.acquire();
            let src = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
            let opts = CompileOptions { opt_level, ..Default::default() };
            let out = compile(&prepared, slot.user(), &src, &output, &opts)?;
            eprint!("{}", out.diagnostics);
            eprintln!("compile: {:?} limit={:?} wall={:?} cpu={:?}", out.sandbox.termination, out.sandbox.limit, out.sandbox.wall, out.sandbox.cpu);
            std::process::exit(if out.success() { 0 } else { 1 });
        }
        Cmd::Run { binary, stdin } => {
            let prepared = Prepared::load(&cli.prepared)?;
            let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
            let slot = pool.acquire();
            let input = match stdin {
                Some(p) => std::fs::read(p)?,
                None => Vec::new(),
            };
            let out = run(&prepared, slot.user(), &binary, &input, &RunOptions::default())?;
            std::io::stdout().write_all(&out.stdout.bytes)?;
            std::io::stderr().write_all(&out.stderr.bytes)?;
            eprintln!("run: {:?} limit={:?} wall={:?} cpu={:?}", out.termination, out.limit, out.wall, out.cpu);
        }
        Cmd::Release(args) => distlab_grader::release::run(&args)?,
    }
    Ok(())
}
