//! distlab-kernel: the Jupyter kernel of the distlab Rust course kit.
//! See ARCHITECTURE-kernel.md for the module map.

mod analysis;
mod cell_value;
mod connection;
mod course;
mod engine;
mod errors;
mod grader_client;
mod grades;
mod history;
mod install;
mod kernel;
mod logo;
mod magics;
mod messages;
mod outbox;
mod relay;
mod spare;
mod submit;
mod workdir;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

// Students run this binary: it must never carry the grader's hidden
// scenarios. Cargo unifies features across a workspace build, so build the
// kernel on its own (`cargo build -p distlab-kernel`), never with --workspace.
const _: () = assert!(
    !distlab::HIDDEN_SCENARIOS_BUILT_IN,
    "distlab-kernel was built with distlab's `grader` feature; build it alone: cargo build -p distlab-kernel"
);
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "distlab-kernel",
    version,
    about = "Jupyter kernel for the distlab Rust course kit (built on evcxr)",
    long_about = "Jupyter kernel for the distlab Rust course kit (built on evcxr).\n\n\
        `distlab-kernel install` writes a kernelspec named \"distlab\" (display name \
        \"Rust (distlab)\") and pre-builds the distlab course crate so that kernels start \
        fast with `distlab` already available. `distlab-kernel uninstall` removes it. Both \
        take --user (the default, ~/.local/share/jupyter), --sys-prefix (the active \
        virtualenv or the sys.prefix of python3 in PATH) or --prefix PATH, like ipykernel.\n\n\
        Jupyter runs the kernel itself as `distlab-kernel kernel --config ... CONNECTION_FILE`.\n\
        Set DISTLAB_KERNEL_LOG=debug to log to stderr."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the "distlab" kernelspec and pre-build the course crate for it.
    Install {
        #[command(flatten)]
        target: TargetArgs,
        /// The course crate directory (default: ./exercises, searched upwards).
        #[arg(long, value_name = "DIR")]
        exercises: Option<PathBuf>,
        /// Skip pre-building distlab (kernels then compile it at start).
        #[arg(long)]
        no_prebuild: bool,
    },
    /// Remove the "distlab" kernelspec and the kernel's data.
    Uninstall {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Run the kernel (Jupyter starts this from the kernelspec).
    Kernel {
        /// The kernel config written by install (exercises dir, prebuilt dir).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The connection file Jupyter writes.
        connection_file: PathBuf,
    },
    /// Internal: a warm spare kernel (see `spare`).
    #[command(name = "__spare", hide = true)]
    Spare {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The Jupyter server's pid: the spare exits with it.
        #[arg(long)]
        anchor: u32,
    },
    /// Internal: the stdout relay in front of evcxr's runtime.
    #[command(name = "__relay", hide = true)]
    Relay,
}

#[derive(Args)]
#[group(multiple = false)]
struct TargetArgs {
    /// Install for the current user (default): ~/.local/share/jupyter.
    #[arg(long)]
    user: bool,
    /// Install into sys.prefix: $VIRTUAL_ENV, or python3's sys.prefix.
    #[arg(long)]
    sys_prefix: bool,
    /// Install into PATH/share/jupyter.
    #[arg(long, value_name = "PATH")]
    prefix: Option<PathBuf>,
}

impl TargetArgs {
    fn target(&self) -> install::Target {
        match (&self.prefix, self.sys_prefix) {
            (Some(p), _) => install::Target::Prefix(p.clone()),
            (None, true) => install::Target::SysPrefix,
            _ => install::Target::User,
        }
    }
}

fn main() {
    // evcxr re-runs this binary as its runtime (and rustc wrapper); this
    // never returns in those roles.
    evcxr::runtime_hook();
    spare::record_launch();

    let cli = Cli::parse();
    if let Ok(filter) = std::env::var("DISTLAB_KERNEL_LOG") {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .init();
    }
    let result = match cli.command {
        Command::Relay => relay::run_relay(),
        Command::Install { target, exercises, no_prebuild } => {
            install::install(&install::InstallOptions { target: target.target(), exercises, prebuild: !no_prebuild })
        }
        Command::Uninstall { target } => install::uninstall(&target.target()),
        Command::Kernel { config, connection_file } => run_kernel(config, connection_file),
        Command::Spare { config, anchor } => spare::run_spare(&config, anchor),
    };
    if let Err(e) = result {
        eprintln!("distlab-kernel: error: {e:#}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

fn run_kernel(config_path: Option<PathBuf>, connection_file: PathBuf) -> anyhow::Result<()> {
    let connection = std::fs::read_to_string(&connection_file)
        .with_context(|| format!("reading connection file {}", connection_file.display()))?;
    let conn = connection::ConnectionInfo::parse(&connection)
        .with_context(|| format!("connection file {}", connection_file.display()))?;
    // Spares need a config: it names the one spare they share.
    let spare_config = config_path.clone().filter(|_| spare::enabled());
    if let Some(cfg) = &spare_config {
        match spare::adopt(cfg, &connection) {
            Ok(Some(adopted)) => {
                spare::spawn(cfg); // for the next kernel
                return adopted.stand_in();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("no spare kernel: {e:#}"),
        }
    }
    let config = match &config_path {
        Some(p) => workdir::KernelConfig::read(p)?,
        None => workdir::KernelConfig::default(),
    };
    let work = workdir::WorkDir::create()?;
    // evcxr reads its work dir from the environment; set it before any
    // thread exists.
    std::env::set_var("EVCXR_TMPDIR", &work.path);
    // Kernels killed without a shutdown leave their work dir behind.
    std::thread::spawn(|| workdir::remove_orphans(&std::env::temp_dir()));
    let notebook = course::session_notebook(std::env::var_os("JPY_SESSION_NAME").as_deref());
    let engine = engine::start(config, work.path.clone(), notebook);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    if let Some(cfg) = spare_config {
        // A cold start: make a spare for the next kernel once this one has
        // done its own start-up work, so the two do not compete.
        let settled = engine.when_settled();
        rt.spawn(async move {
            if settled.await.is_ok() {
                spare::spawn(&cfg);
            }
        });
    }
    rt.block_on(kernel::run(conn, engine, work, None))
}
