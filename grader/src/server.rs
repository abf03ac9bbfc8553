//! `serve`: opens the gradebook, re-queues jobs a dead process left
//! running, starts the workers and the HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::db::{Db, Target};
use crate::prepare::Prepared;
use crate::ratelimit::{RateLimit, SubmissionLimit};
use crate::secret;
use crate::worker::{self, Grader};

/// Shared by every request handler.
pub struct AppState {
    pub db: Arc<Db>,
    pub secret: Vec<u8>,
    /// Submissions per student per exercise, counted in the gradebook.
    pub submission_limit: SubmissionLimit,
    /// Login attempts per (client address, instructor name), and per client
    /// over all names; see `pages::login`.
    pub login_rate: RateLimit,
    pub login_client_rate: RateLimit,
    /// Password checks (argon2) running at once, over all clients.
    pub login_checks: tokio::sync::Semaphore,
    /// Wakes the workers after a submission (None when there are none).
    pub wake: Option<Arc<WakeHandle>>,
}

/// Password checks at once (argon2 takes ~20 MiB and tens of ms each).
pub const LOGIN_CHECKS: usize = 2;

/// The part of the grader the HTTP side may poke.
pub struct WakeHandle(Arc<Grader>);

impl WakeHandle {
    pub fn notify(&self) {
        self.0.wake.notify();
    }
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub db: Target,
    pub addr: SocketAddr,
    /// Grading workers; 0 serves the API only (jobs wait in the queue).
    pub workers: usize,
    /// Prepared directory (must be prepared when workers > 0).
    pub prepared: Option<Prepared>,
    /// Submissions per student per exercise per minute (0 = no limit).
    pub rate_per_minute: usize,
    /// Compiled-binary cache directory.
    pub cache_dir: PathBuf,
    pub http: HttpLimits,
}

/// What keeps slow, idle or too many clients from holding the server (a
/// slowloris client trickling its headers a byte a second held a connection
/// and a task for as long as it liked).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// The whole request head (request line and headers). hyper starts the
    /// same timer when a keep-alive connection waits for its next request,
    /// so it is also the idle keep-alive timeout.
    pub header_timeout: Duration,
    /// The longest pause between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// A whole request, body included (a body trickled just fast enough to
    /// beat `body_idle_timeout` ends here); answered 408.
    pub request_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog until one
    /// closes (the timeouts above make that bounded).
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

pub fn serve(opts: ServeOptions) -> Result<()> {
    let db = Arc::new(Db::open(opts.db.clone())?);
    let secret = secret::course_secret(&db)?;
    crate::auth::warm_up();
    let grader = match (&opts.prepared, opts.workers) {
        (_, 0) => None,
        (None, _) => anyhow::bail!("workers need a prepared directory"),
        (Some(p), n) => Some(Arc::new(Grader::new(Arc::clone(&db), p.clone(), n, &opts.cache_dir)?)),
    };
    let workers = grader.as_ref().map(|g| worker::spawn(Arc::clone(g), opts.workers)).unwrap_or_default();
    let state = Arc::new(AppState {
        db,
        secret,
        submission_limit: SubmissionLimit::new(opts.rate_per_minute, Duration::from_secs(60)),
        login_rate: RateLimit::new(5, Duration::from_secs(60)),
        login_client_rate: RateLimit::new(30, Duration::from_secs(60)),
        login_checks: tokio::sync::Semaphore::new(LOGIN_CHECKS),
        wake: grader.clone().map(|g| Arc::new(WakeHandle(g))),
    });
    let app = crate::api::routes()
        .merge(crate::pages::routes())
        .fallback(crate::api::no_route)
        .method_not_allowed_fallback(crate::api::wrong_method)
        .with_state(state);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(opts.addr).await.with_context(|| format!("binding {}", opts.addr))?;
        // The line tests and scripts wait for.
        println!("listening on http://{}", listener.local_addr()?);
        serve_http(listener, app, opts.http).await
    })?;
    if let Some(g) = grader {
        g.stop.store(true, Ordering::Relaxed);
        g.wake.notify();
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// axum::serve has no header timeout and no connection cap, so connections
/// are served here with hyper's http1 builder (header-read timeout), tower-http
/// body and request timeouts, and a semaphore permit per open connection.
async fn serve_http(listener: tokio::net::TcpListener, app: axum::Router, limits: HttpLimits) -> Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

    let service = tower::ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .service(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        // A permit first: at the cap, connections wait in the backlog.
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p?,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and the like: wait for connections to close.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The client's address for handlers (`ConnectInfo`, as axum::serve gives).
        let svc = tower::ServiceBuilder::new()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)))
            .service(service.clone());
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            // Errors here are the client's: timeouts, resets, bad requests.
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
            drop(permit);
        });
    }
    // Requests in flight may finish; idle connections close now.
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
