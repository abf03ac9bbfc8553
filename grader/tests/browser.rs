//! The instructor dashboard and the student page in a real browser: Debian's
//! headless `chromium` driven through `chromedriver` (WebDriver, fantoccini)
//! against the real `distlab-grader serve`, after two submissions were
//! graded in the sandbox. Every step waits for an element of the page it
//! expects, so a broken page fails with a timeout, never a false pass.
//! Needs `chromium` and `chromium-driver` (installed by `./dev test`).
//! Screenshots go to `$CARGO_TARGET_TMPDIR/browser-screenshots`.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, ensure, Context as _};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

const GRADE_TIMEOUT: Duration = Duration::from_secs(120);
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "correct horse battery";

/// A `chromedriver` on a free port of 127.0.0.1, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("chromedriver")
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

/// With every exercise in the grid (far wider than the window), a student's
/// name and Total are on screen without scrolling: each cell's bounding
/// rect lies inside the viewport, and the point at its centre hits the cell
/// itself (not clipped by the grid's scroll box, not covered).
async fn total_is_in_view(c: &Client) -> anyhow::Result<()> {
    let js = r##"
        const visible = (e) => {
            const r = e.getBoundingClientRect();
            const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
            return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, hit: e.contains(hit) };
        };
        const row = document.querySelector("#gradebook tr[data-student='s0']");
        const headers = [...document.querySelectorAll('#gradebook tr:first-child th')];
        const grid = document.getElementById('gradebook');
        return {
            width: window.innerWidth, height: window.innerHeight, scrollX: window.scrollX, scrollY: window.scrollY,
            gridWidth: grid.scrollWidth, columns: headers.length,
            totalHeader: headers.findIndex((h) => h.textContent.trim() === 'Total'),
            total: row.querySelector('td.total').textContent.trim(),
            name: visible(row.querySelector('td.student')), totalCell: visible(row.querySelector('td.total')),
        };"##;
    let v = c.execute(js, vec![]).await.context("measuring the grid")?;
    eprintln!("gradebook layout: {v}");
    let (width, height) = (v["width"].as_f64().unwrap_or(0.0), v["height"].as_f64().unwrap_or(0.0));
    // A 1280x800 window (--window-size); headless Chromium keeps ~140 px of it for its own frame.
    ensure!((1200.0..=1280.0).contains(&width) && (600.0..=800.0).contains(&height), "viewport {width}x{height}");
    ensure!(v["scrollX"] == 0.0 && v["scrollY"] == 0.0, "the page is not scrolled: {v}");
    ensure!(
        v["columns"].as_u64() == Some(distlab_grader::catalogue::all().len() as u64 + 2),
        "one column per exercise: {v}"
    );
    ensure!(
        v["gridWidth"].as_f64().unwrap_or(0.0) > width,
        "the grid is wider than the window (else this proves nothing): {v}"
    );
    ensure!(v["total"] == "5.00", "s0's total: {v}");
    for cell in ["name", "totalCell"] {
        let r = &v[cell];
        let inside = r["left"].as_f64() >= Some(0.0)
            && r["right"].as_f64() <= Some(width)
            && r["top"].as_f64() >= Some(0.0)
            && r["bottom"].as_f64() <= Some(height);
        ensure!(inside && r["hit"] == true, "{cell} is not in view at {width}x{height} without scrolling: {v}");
    }
    // Scrolled to the last exercise, the name column stays pinned in place.
    let pinned = r##"
        const box = document.querySelector('.wide');
        box.scrollLeft = box.scrollWidth;
        const e = document.querySelector("#gradebook tr[data-student='s0'] td.student");
        const r = e.getBoundingClientRect();
        const hit = e.contains(document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2));
        const out = { scrolled: box.scrollLeft, left: r.left, hit };
        box.scrollLeft = 0;
        return out;"##;
    let p = c.execute(pinned, vec![]).await?;
    ensure!(
        p["scrolled"].as_f64() > Some(0.0)
            && p["hit"] == true
            && (p["left"].as_f64().unwrap_or(-99.0) - v["name"]["left"].as_f64().unwrap_or(0.0)).abs() < 2.0,
        "the name column is not pinned when the grid scrolls: {p}"
    );
    Ok(())
}

async fn instructor_pages(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
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
    wait_for_xpath(c, "//h1[text()='Gradebook']").await?;

    // The grid: one row per student, warmup read from the column under its header.
    let headers = c.find_all(Locator::Css("#gradebook tr:first-child th")).await?;
    let mut col = None;
    for (i, h) in headers.iter().enumerate() {
        if h.text().await?.lines().next() == Some("warmup") {
            col = Some(i + 1); // XPath positions count from 1
        }
    }
    let col = col.ok_or_else(|| anyhow!("no warmup column in the gradebook"))?;
    let rows = c.find_all(Locator::Css("#gradebook tr[data-student]")).await?;
    ensure!(rows.len() == 2, "two students in the grid, found {}", rows.len());
    let cell = |student: &str| format!("//table[@id='gradebook']//tr[@data-student='{student}']/td[{col}]");
    let s0 = c.find(Locator::XPath(&cell("s0"))).await?.text().await?;
    let s1 = c.find(Locator::XPath(&cell("s1"))).await?.text().await?;
    ensure!(s0.trim().parse::<f64>().ok() == Some(5.0), "s0 (correct) warmup cell: {s0:?}");
    ensure!(
        s1.trim().parse::<f64>().ok() == Some((f.wrong_score * 100.0).round() / 100.0),
        "s1 (wrong) warmup cell: {s1:?}, API score {}",
        f.wrong_score
    );
    total_is_in_view(c).await?;
    screenshot(c, shots, "dashboard.png").await?;

    // The wrong submission's report: the failing check and its diagram.
    c.find(Locator::XPath(&format!("//a[@href='/dashboard/submissions/{}']", f.wrong_id))).await?.click().await?;
    wait_for_xpath(c, &format!("//h1[starts-with(., 'Submission {}')]", f.wrong_id)).await?;
    let row = c.find(Locator::XPath("//table[@id='checks']//tr[td[1]='node 0 hears from everyone']")).await?;
    let status = row.find(Locator::Css("td.failed")).await.context("the failing check is marked failed")?;
    ensure!(status.text().await? == "failed");
    let details = row.text().await?;
    ensure!(details.contains("never got a pong"), "the reason is shown: {details:?}");
    let img = wait_for(c, "img#diagram").await?;
    ensure!(img.attr("src").await?.unwrap_or_default().starts_with("data:image/svg+xml;base64,"));
    // Decoded and laid out by the browser: wait for the image to load, then
    // check it rendered with a size (a broken SVG has naturalWidth 0).
    let loaded = "const i = document.getElementById('diagram'); return i.complete ? i.naturalWidth : -1;";
    let start = std::time::Instant::now();
    let natural = loop {
        let w = c.execute(loaded, vec![]).await?.as_f64().unwrap_or(-1.0);
        if w >= 0.0 || start.elapsed() > PAGE_TIMEOUT {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure!(natural > 0.0, "the diagram SVG did not render (naturalWidth {natural})");
    let (_, _, w, h) = img.rectangle().await?;
    ensure!(w > 50.0 && h > 20.0, "the diagram has no size on the page: {w}x{h}");
    screenshot(c, shots, "submission.png").await?;
    // Element screenshots are clipped to the viewport: bring the diagram in first.
    c.execute("document.getElementById('diagram').scrollIntoView()", vec![]).await?;
    std::fs::write(shots.join("diagram.png"), img.screenshot().await?)?;

    // A deadline through the settings form, shown after saving.
    c.goto(&format!("{url}/dashboard")).await?;
    wait_for_xpath(c, "//h1[text()='Gradebook']").await?;
    fill(c, "#settings-warmup input[name=deadline]", "2030-01-15T12:00:00Z").await?;
    fill(c, "#settings-warmup input[name=late_penalty]", "0.25").await?;
    c.find(Locator::Css("#settings-warmup button")).await?.click().await?;
    let msg = wait_for(c, "#message").await?.text().await?;
    ensure!(msg.contains("Saved the deadlines of warmup"), "message: {msg:?}");
    let shown = c.find(Locator::Css("#settings-warmup input[name=deadline]")).await?.prop("value").await?;
    ensure!(shown.as_deref() == Some("2030-01-15T12:00:00+00:00"), "deadline shown: {shown:?}");
    let other = c.find(Locator::Css("#settings-lamport input[name=deadline]")).await?.prop("value").await?;
    ensure!(other.as_deref() == Some(""), "only warmup's row was saved, lamport shows {other:?}");

    // Log out: the session is gone, the dashboard redirects to login again.
    c.find(Locator::XPath("//button[text()='Log out']")).await?.click().await?;
    wait_for_xpath(c, "//h1[text()='Instructor login']").await?;
    c.goto(&format!("{url}/dashboard")).await?;
    wait_for_xpath(c, "//h1[text()='Instructor login']").await?;
    ensure!(c.current_url().await?.path() == "/login", "after logout the dashboard redirects to /login");
    Ok(())
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
