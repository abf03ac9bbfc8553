//! One submission's report, reached from the student's page: the failing
//! check with its seed and replay line, its diagram; then an override with
//! a comment (the gradebook follows), a regrade of that one submission
//! followed to the end on the regrade page, and the override withdrawn
//! (which the regrade's change list then shows).

use std::path::Path;

use anyhow::{ensure, Context as _};
use fantoccini::{Client, Locator};

use super::*;

/// The text of an element, trimmed.
async fn text(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(wait_for(c, css).await?.text().await?.trim().to_owned())
}

/// Reloads `url` until its progress line says finished (the page also
/// refreshes itself; reloading here keeps each look a fresh page).
async fn wait_finished(c: &Client, url: &str) -> anyhow::Result<String> {
    let start = std::time::Instant::now();
    loop {
        c.goto(url).await?;
        let progress = text(c, "#progress").await?;
        if progress.contains("(finished)") {
            return Ok(progress);
        }
        ensure!(start.elapsed() < GRADE_TIMEOUT, "the regrade did not finish: {progress:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn report(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    let url = &f.url;
    // The student's page: their attempts and the chart of their scores.
    c.goto(&format!("{url}/dashboard/students/s1")).await?;
    wait_for(c, "svg.chart").await.context("the student's score chart")?;
    screenshot(c, shots, "student-view.png").await?;
    c.find(Locator::XPath(&format!("//table[@class='attempts']//a[@href='/dashboard/submissions/{}']", f.wrong_id)))
        .await
        .context("the failing attempt is listed on the student's page")?
        .click()
        .await?;
    wait_for_xpath(c, &format!("//h1[starts-with(., 'Submission {}')]", f.wrong_id)).await?;

    // The failing check: its reason, seed and replay line.
    let row = c.find(Locator::XPath("//table[@id='checks']//tr[td[1]='node 0 hears from everyone']")).await?;
    let status = row.find(Locator::Css("td.failed")).await.context("the failing check is marked failed")?;
    ensure!(status.text().await? == "failed");
    let details = row.text().await?;
    ensure!(details.contains("never got a pong"), "the reason is shown: {details:?}");
    let replay = row.find(Locator::Css("code.replay")).await.context("the check's replay line")?.text().await?;
    ensure!(!replay.trim().is_empty(), "the replay line is shown");
    let seed = row.find(Locator::Css("td.seed")).await.context("the check's seed")?.text().await?;
    ensure!(seed.trim().parse::<u64>().is_ok(), "the seed is a number: {seed:?}");
    let first = text(c, "#replay").await.context("the first failure's replay line")?;
    ensure!(!first.is_empty(), "the first failure's replay line is shown");
    let source = text(c, "#source").await?;
    ensure!(source.starts_with('1') && source.contains("fn "), "numbered source: {source:.80}");

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
    let page = c.current_url().await?.to_string();

    // An override with a comment: a new audit row, the counted score changes.
    let comment = "Partial credit: <b>fixed</b> in office hours";
    fill(c, "#override-score", "4.5").await?;
    fill(c, "#override-comment", comment).await?;
    c.find(Locator::Css("#override")).await?.click().await?;
    let msg = text(c, "#message").await?;
    ensure!(msg.contains("Score overridden to 4.50"), "message: {msg:?}");
    ensure!(text(c, "#counted").await? == "4.50", "the counted score is the override");
    let audit = text(c, "#audit").await?;
    ensure!(audit.contains("prof") && audit.contains(comment), "the audit row, comment as text: {audit:?}");
    screenshot(c, shots, "override.png").await?;
    // The export the instructor downloads carries the override.
    let js = "return fetch('/dashboard/export.csv').then((r) => r.text());";
    let csv = c.execute(js, vec![]).await.context("fetching the export")?;
    let row = csv.as_str().unwrap_or_default().lines().find(|l| l.contains(",s1,")).map(str::to_owned);
    let row = row.with_context(|| format!("s1 in the export: {csv}"))?;
    ensure!(row.contains(",4.50,"), "the export uses the override: {row:?}");
    c.goto(&format!("{url}/dashboard/gradebook")).await?;
    let total = text(c, "#gradebook tr[data-student='s1'] td.total").await?;
    ensure!(total == "4.50", "the gradebook shows the override: {total:?}");

    // Regrade this one submission: its regrade page follows it to the end.
    c.goto(&page).await?;
    c.find(Locator::Css("#regrade")).await?.click().await?;
    wait_for_xpath(c, "//h1[starts-with(., 'Regrade ')]").await?;
    let regrade = c.current_url().await?.to_string();
    ensure!(regrade.contains("/dashboard/regrades/"), "the regrade's page: {regrade}");
    let progress = wait_finished(c, &regrade).await?;
    ensure!(progress.contains("1 of 1 done"), "progress: {progress:?}");
    // The override still counts, so nothing changed.
    let none = text(c, "#no-changes").await.context("an empty change list")?;
    ensure!(none.starts_with("No changes"), "{none:?}");
    screenshot(c, shots, "regrade.png").await?;

    // Withdrawn: the graded score counts again, and the regrade lists the change.
    c.goto(&page).await?;
    c.find(Locator::Css("#withdraw")).await?.click().await?;
    let msg = text(c, "#message").await?;
    ensure!(msg.contains("Override withdrawn"), "message: {msg:?}");
    let graded = format!("{:.2}", f.wrong_score);
    ensure!(text(c, "#counted").await? == graded, "the graded score counts again");
    c.goto(&regrade).await?;
    let changes = text(c, "#changes").await.context("the change list")?;
    ensure!(changes.contains(&format!("4.50 -> {graded}")), "the change: {changes:?}");
    c.find(Locator::XPath(&format!("//table[@id='changes']//a[@href='/dashboard/submissions/{}']", f.wrong_id)))
        .await
        .context("the change links to its submission")?;
    screenshot(c, shots, "regrade-changes.png").await?;
    c.goto(&format!("{url}/dashboard/regrades")).await?;
    let list = text(c, "#regrades").await?;
    ensure!(list.contains(&format!("submission {}", f.wrong_id)) && list.contains("prof"), "{list:?}");
    screenshot(c, shots, "regrades.png").await?;
    Ok(())
}
