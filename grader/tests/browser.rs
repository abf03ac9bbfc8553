//! The instructor dashboard and the student page in a real browser: Debian's
//! headless `chromium` driven through `chromedriver` (WebDriver, fantoccini)
//! against the real `distlab-grader serve`, after two submissions were
//! graded in the sandbox. Every step waits for an element of the page it
//! expects, so a broken page fails with a timeout, never a false pass.
//! Needs `chromium` and `chromium-driver` (installed by `./dev test`).
//! Screenshots go to `$CARGO_TARGET_TMPDIR/browser-screenshots`.

mod common;

// The steps, one page each (a test's root file finds modules beside it, so
// each is named by its path).
#[path = "browser/access.rs"]
mod access;
#[path = "browser/exercise.rs"]
mod exercise;
#[path = "browser/gradebook.rs"]
mod gradebook;
#[path = "browser/live.rs"]
mod live;
#[path = "browser/overview.rs"]
mod overview;
#[path = "browser/roster.rs"]
mod roster;
#[path = "browser/submission.rs"]
mod submission;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context as _};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

const GRADE_TIMEOUT: Duration = Duration::from_secs(120);
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);
const BROWSER_ZONE: &str = "America/New_York";
const PASSWORD: &str = "correct horse battery";

/// A `chromedriver` on a free port of 127.0.0.1, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The browser lives in New York: the pages must show and take times
        // in the reader's zone, not the server's UTC.
        let mut child = Command::new("chromedriver")
            .env("TZ", BROWSER_ZONE)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is required: run ./dev test or apt-get install chromium chromium-driver");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("started successfully") => break,
                Some(Ok(_)) => {}
                _ => panic!("chromedriver did not start: {:?}", child.try_wait()),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(driver: &Driver, profile: &Path) -> anyhow::Result<Client> {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,800",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await?)
}

/// Waits until the element shows up (the page it belongs to has loaded).
async fn wait_for(c: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    c.wait().at_most(PAGE_TIMEOUT).for_element(Locator::Css(css)).await.with_context(|| format!("waiting for {css}"))
}

async fn wait_for_xpath(c: &Client, xpath: &str) -> anyhow::Result<fantoccini::elements::Element> {
    c.wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::XPath(xpath))
        .await
        .with_context(|| format!("waiting for {xpath}"))
}

async fn fill(c: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let e = c.find(Locator::Css(css)).await.with_context(|| css.to_owned())?;
    e.clear().await?;
    e.send_keys(text).await?;
    Ok(())
}

async fn screenshot(c: &Client, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let png = c.screenshot().await?;
    ensure!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    let path = dir.join(name);
    std::fs::write(&path, png)?;
    eprintln!("screenshot: {}", path.display());
    Ok(path)
}

/// What the browser test needs to know about the graded submissions.
struct Fixture {
    url: String,
    tokens: Vec<String>,
    good_id: i64,
    wrong_id: i64,
    wrong_score: f64,
}

/// Logs in as the instructor (after a wrong password is refused).
async fn log_in(c: &Client, f: &Fixture) -> anyhow::Result<()> {
    let url = &f.url;
    // Not logged in: the dashboard sends us to the login page.
    c.goto(&format!("{url}/dashboard")).await?;
    wait_for_xpath(c, "//h1[text()='Instructor login']").await?;
    ensure!(c.current_url().await?.path() == "/login", "redirected to /login");

    // A wrong password: the error is shown, no session.
    fill(c, "input[name=name]", "prof").await?;
    fill(c, "input[name=password]", "not the password").await?;
    c.find(Locator::XPath("//button[text()='Log in']")).await?.click().await?;
    let err = wait_for(c, "p.failed").await?.text().await?;
    ensure!(err.contains("Wrong name or password"), "login error: {err:?}");

    fill(c, "input[name=name]", "prof").await?;
    fill(c, "input[name=password]", PASSWORD).await?;
    c.find(Locator::XPath("//button[text()='Log in']")).await?.click().await?;
    wait_for_xpath(c, "//h1[text()='Course overview']").await?;

    Ok(())
}

async fn log_out(c: &Client, f: &Fixture) -> anyhow::Result<()> {
    let url = &f.url;
    // Log out: the session is gone, the dashboard redirects to login again.
    c.find(Locator::XPath("//button[text()='Log out']")).await?.click().await?;
    wait_for_xpath(c, "//h1[text()='Instructor login']").await?;
    c.goto(&format!("{url}/dashboard")).await?;
    wait_for_xpath(c, "//h1[text()='Instructor login']").await?;
    ensure!(c.current_url().await?.path() == "/login", "after logout the dashboard redirects to /login");
    Ok(())
}

/// The instructor's pages, one step per module of `tests/browser/`, in
/// order, logged in; each step leaves the browser on a page of its own.
async fn instructor_pages(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    log_in(c, f).await?;
    overview::summary(c, f, shots).await.context("overview step")?;
    gradebook::grid(c, f, shots).await.context("gradebook step")?;
    submission::report(c, f, shots).await.context("submission step")?;
    exercise::deadlines(c, f, shots).await.context("exercise step")?;
    let token = roster::import(c, f, shots).await.context("roster step")?;
    live::recent(c, f, shots, &token).await.context("live step")?;
    log_out(c, f).await
}

async fn student_page(c: &Client, f: &Fixture) -> anyhow::Result<()> {
    c.goto(&format!("{}/student", f.url)).await?;
    wait_for_xpath(c, "//h1[text()='My submissions']").await?;
    fill(c, "input[name=token]", &f.tokens[1]).await?;
    c.find(Locator::XPath("//button[text()='Show']")).await?.click().await?;
    wait_for_xpath(c, "//p[text()='Student s1.']").await?;
    let mut shown = Vec::new();
    for s in c.find_all(Locator::Css("details > summary")).await? {
        shown.push(s.text().await?);
    }
    ensure!(shown.len() == 1, "s1 has exactly one submission: {shown:?}");
    ensure!(shown[0].starts_with(&format!("#{} warmup: graded", f.wrong_id)), "{shown:?}");
    ensure!(!shown.iter().any(|s| s.contains(&format!("#{} ", f.good_id))), "s0's submission is not shown: {shown:?}");
    // Open it: the failing check is inside.
    c.find(Locator::Css("details > summary")).await?.click().await?;
    let failed = wait_for(c, "details[open] td.failed").await?;
    ensure!(failed.text().await? == "failed");
    Ok(())
}

#[test]
fn dashboard_and_student_page_in_chromium() {
    let dir = tempdir();
    let students = roster(dir.path(), 2);
    cli(dir.path(), &["instructor", "add", "prof", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    let srv = Server::start(dir.path(), 1, &[]);
    let (s, good) = submit(&srv.url, &students[0].1, "warmup", &data("warmup_good.rs"), None);
    assert_eq!(s, 202, "{good}");
    let (s, wrong) = submit(&srv.url, &students[1].1, "warmup", &data("warmup_wrong.rs"), None);
    assert_eq!(s, 202, "{wrong}");
    let good = wait_graded(&srv.url, &students[0].1, good["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    let wrong = wait_graded(&srv.url, &students[1].1, wrong["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!((good["status"].as_str(), good["score"].as_f64()), (Some("graded"), Some(5.0)), "{good}");
    let wrong_score = wrong["score"].as_f64().unwrap_or_else(|| panic!("wrong one has a score: {wrong}"));
    assert!(wrong_score < 5.0, "{wrong}");
    let fixture = Fixture {
        url: srv.url.clone(),
        tokens: students.into_iter().map(|(_, t)| t).collect(),
        good_id: good["id"].as_i64().unwrap(),
        wrong_id: wrong["id"].as_i64().unwrap(),
        wrong_score,
    };

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempdir();
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let result = rt.block_on(async {
        let c = connect(&driver, profile.path()).await?;
        let r = async {
            instructor_pages(&c, &fixture, &shots).await?;
            access::student_token_refused(&c, &fixture).await.context("access step")?;
            student_page(&c, &fixture).await
        }
        .await;
        // Close the session (Chromium exits) whether or not the checks passed.
        let closed = c.close().await;
        r.and(closed.map_err(Into::into))
    });
    if let Err(e) = result {
        panic!("{e:#}\nserver log: {}", std::fs::read_to_string(&srv.stderr_log).unwrap_or_default());
    }
}
