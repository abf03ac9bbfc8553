//! Talking to the grader (the HTTP contract and its types are in
//! `distlab-api`, `api/src/lib.rs`):
//! where it is and who we are (`:login`'s file, overridden by the
//! `DISTLAB_GRADER_URL` / `DISTLAB_TOKEN` variables), and a small blocking
//! client with short timeouts, so a grader that is down never hangs a cell.

use distlab_api as wire;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use ureq::tls::{RootCerts, TlsConfig};

/// What `:login` stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub url: String,
    pub token: String,
}

/// `$XDG_CONFIG_HOME/distlab/grader.json`, else `~/.config/distlab/grader.json`.
pub fn config_path() -> Option<PathBuf> {
    base_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("distlab").join("grader.json"))
}

/// An XDG base dir: the variable if it holds an absolute path, else `~/<fallback>`.
pub fn base_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_absolute() => Some(p),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// The grader to use: each environment variable overrides its field of the file.
pub fn resolve(env_url: Option<String>, env_token: Option<String>, file: Option<Login>) -> Option<Login> {
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let (file_url, file_token) = match file {
        Some(l) => (Some(l.url), Some(l.token)),
        None => (None, None),
    };
    Some(Login {
        url: nonempty(env_url).or(nonempty(file_url))?.trim_end_matches('/').to_owned(),
        token: nonempty(env_token).or(nonempty(file_token))?,
    })
}

/// The grader from the environment and the login file; None when either
/// the URL or the token is unknown.
pub fn current() -> Result<Option<Login>, String> {
    let file = match config_path() {
        Some(p) => read_login(&p)?,
        None => None,
    };
    Ok(resolve(std::env::var("DISTLAB_GRADER_URL").ok(), std::env::var("DISTLAB_TOKEN").ok(), file))
}

pub fn read_login(path: &Path) -> Result<Option<Login>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a valid login file ({e}); run :login URL TOKEN again", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Write the login file readable by its owner only. The file is created
/// with mode 0600 (never wider, not even for a moment) and renamed into place.
pub fn write_login(path: &Path, login: &Login) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(login).expect("a login serializes");
    write_private(path, text.as_bytes())
}

/// Write `data` to `path` atomically, as a 0600 file, synced to disk.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().ok_or_else(|| std::io::Error::other("path has no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why a request did not give the expected answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// No answer at all: refused, timed out, DNS, ...
    Unreachable(String),
    /// The grader answered with an error status; `message` is its `error` text.
    Status { code: u16, message: String },
    /// A 2xx answer that is not the API's shape (another grader version, a
    /// proxy's page): never guessed at, reported as it is.
    BadResponse(String),
    /// The client could not be set up for https (an unreadable CA file).
    Tls(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(e) => write!(f, "the grader could not be reached ({e})"),
            ClientError::Status { code: 401, message } => {
                write!(f, "the grader refused the token (401: {message}); check it and run :login URL TOKEN again")
            }
            ClientError::Status { code, message } => write!(f, "the grader answered {code}: {message}"),
            ClientError::BadResponse(e) => {
                write!(f, "the grader answered something this kernel does not understand: {e}")
            }
            ClientError::Tls(e) => write!(f, "cannot set up https: {e}"),
        }
    }
}

/// The certificates of a PEM file, as the only trusted roots.
fn pem_roots(path: &Path) -> Result<RootCerts, ClientError> {
    let bad = |e: String| ClientError::Tls(format!("SSL_CERT_FILE {}: {e}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(cert) = item.map_err(|e| bad(e.to_string()))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// A 2xx body as the type the API promises for `what` (method and path),
/// or an error naming what did not fit and how the body began.
pub fn decode<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, ClientError> {
    serde_json::from_str(body).map_err(|e| {
        let start: String = body.trim().chars().take(120).collect();
        let more = if body.trim().chars().count() > 120 { "..." } else { "" };
        ClientError::BadResponse(format!("{what}: {e} (the answer began {start:?}{more})"))
    })
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Client {
    /// A client for `login`'s grader, over http or https (rustls; the
    /// trusted roots are the Mozilla set built in, or the PEM file named by
    /// `SSL_CERT_FILE`, for a course server with its own certificate authority).
    pub fn new(login: &Login) -> Result<Client, ClientError> {
        let roots = match std::env::var_os("SSL_CERT_FILE") {
            Some(path) if !path.is_empty() => pem_roots(Path::new(&path))?,
            _ => RootCerts::WebPki,
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(3)))
            .timeout_global(Some(Duration::from_secs(15)))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Ok(Client {
            agent: config.into(),
            base: login.url.trim_end_matches('/').to_owned(),
            token: login.token.clone(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Read a response: the API's type for a 2xx, else the grader's error
    /// sentence (or the start of whatever else answered, e.g. a proxy).
    fn answer<T: DeserializeOwned>(
        what: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut resp = resp.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let code = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Unreachable(format!("reading the answer to {what}: {e}")))?;
        if (200..300).contains(&code) {
            return decode(what, &text);
        }
        let message = match serde_json::from_str::<wire::ErrorBody>(&text) {
            Ok(body) => body.error,
            Err(_) => text.trim().chars().take(300).collect(),
        };
        Err(ClientError::Status { code, message })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let resp = self.agent.get(&self.url(path)).header("Authorization", &format!("Bearer {}", self.token)).call();
        Self::answer(&format!("GET {path}"), resp)
    }

    pub fn healthz(&self) -> Result<(), ClientError> {
        let resp = self.agent.get(&self.url(wire::HEALTHZ)).call();
        Self::answer::<wire::Health>(&format!("GET {}", wire::HEALTHZ), resp).map(|_| ())
    }

    pub fn exercises(&self) -> Result<Vec<wire::Exercise>, ClientError> {
        self.get(wire::EXERCISES)
    }

    /// The student's own submissions and best scores.
    pub fn grades(&self) -> Result<wire::Grades, ClientError> {
        self.get(wire::GRADES)
    }

    /// The student's own seed for `exercise`.
    pub fn seed(&self, exercise: &str) -> Result<u64, ClientError> {
        self.get::<wire::Variant>(&wire::variant_path(exercise)).map(|v| v.seed)
    }

    /// Post a submission; the grader's id for it once it stored it.
    pub fn submit(&self, exercise: &str, source: &str, idempotency_key: &str) -> Result<i64, ClientError> {
        let new = wire::NewSubmission { exercise: exercise.to_owned(), source: source.to_owned() };
        let body = serde_json::to_string(&new).expect("a submission serializes");
        let resp = self
            .agent
            .post(&self.url(wire::SUBMISSIONS))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        Self::answer::<wire::Receipt>(&format!("POST {}", wire::SUBMISSIONS), resp).map(|r| r.id)
    }

    pub fn submission(&self, id: i64) -> Result<wire::Submission, ClientError> {
        self.get(&wire::submission_path(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn login(url: &str, token: &str) -> Login {
        Login { url: url.into(), token: token.into() }
    }

    #[test]
    fn environment_overrides_the_file_field_by_field() {
        let file = Some(login("http://file:1/", "file-token"));
        assert_eq!(resolve(None, None, file.clone()), Some(login("http://file:1", "file-token")));
        assert_eq!(resolve(Some("http://env:2".into()), None, file.clone()), Some(login("http://env:2", "file-token")));
        assert_eq!(resolve(None, Some("t".into()), file.clone()), Some(login("http://file:1", "t")));
        // An empty variable does not count.
        assert_eq!(resolve(Some(" ".into()), None, file), Some(login("http://file:1", "file-token")));
        assert_eq!(resolve(Some("http://env".into()), None, None), None);
        assert_eq!(resolve(None, None, None), None);
    }

    #[test]
    fn login_file_is_private_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("distlab-login-{}", uuid::Uuid::new_v4()));
        let path = dir.join("distlab").join("grader.json");
        write_login(&path, &login("http://h:1", "secret")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_login(&path).unwrap(), Some(login("http://h:1", "secret")));
        // Overwriting keeps it private and leaves no temp files.
        write_login(&path, &login("http://h:2", "other")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        std::fs::write(&path, "not json").unwrap();
        assert!(read_login(&path).unwrap_err().contains(":login"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_closed_port_is_unreachable_quickly() {
        // Bind and drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = Client::new(&login(&format!("http://127.0.0.1:{port}"), "t")).unwrap();
        let t = std::time::Instant::now();
        assert!(matches!(client.healthz(), Err(ClientError::Unreachable(_))));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
