//! One submission's report: the failing check and its diagram.

use std::path::Path;

use anyhow::{ensure, Context as _};
use fantoccini::{Client, Locator};

use super::*;

pub async fn report(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    c.goto(&format!("{}/dashboard", f.url)).await?;
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

    Ok(())
}
