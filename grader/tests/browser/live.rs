//! Live updates: with the overview open, a submission graded meanwhile
//! shows up at the top of its newest submissions, without a reload.

use std::path::Path;

use anyhow::{ensure, Context as _};
use fantoccini::{Client, Locator};

use super::*;

/// Submits as the student with `token` and waits for the row.
pub async fn recent(c: &Client, f: &Fixture, shots: &Path, token: &str) -> anyhow::Result<()> {
    c.goto(&format!("{}/dashboard", f.url)).await?;
    wait_for_xpath(c, "//h1[text()='Course overview']").await?;
    c.execute("window.__marker = 'still here'", vec![]).await?;
    // The stream is open before anything is submitted.
    wait_for(c, "html[data-live=open]").await.context("the events stream did not open")?;
    let (s, j) = submit(&f.url, token, "warmup", &data("warmup_good.rs"), None);
    ensure!(s == 202, "submitted: {j}");
    let id = j["id"].as_i64().context("submission id")?;
    let row = format!("//table[@id='recent']//tr[contains(@class, 'new')][td[1]/a='{id}']");
    let row = c
        .wait()
        .at_most(GRADE_TIMEOUT)
        .for_element(Locator::XPath(&row))
        .await
        .with_context(|| format!("submission {id} did not appear in table#recent"))?;
    let cells: Vec<String> = {
        let mut out = Vec::new();
        for td in row.find_all(Locator::Css("td")).await? {
            out.push(td.text().await?);
        }
        out
    };
    ensure!(cells.len() == 7, "the columns of the table: {cells:?}");
    ensure!(cells[1] == "r1" && cells[2] == "warmup" && cells[3] == "graded" && cells[4] == "5.00", "{cells:?}");
    let marker = c.execute("return window.__marker", vec![]).await?;
    ensure!(marker == "still here", "the page was reloaded: {marker}");
    // The newest is the first row of the body.
    let first = c.find(Locator::Css("table#recent tbody tr td a")).await?.text().await?;
    ensure!(first == id.to_string(), "the new row is on top: {first}");
    let pending = c.find(Locator::Css("#pending")).await?.text().await?;
    ensure!(pending.parse::<u32>().is_ok(), "#pending: {pending:?}");
    c.execute("document.getElementById('recent').scrollIntoView()", vec![]).await?;
    screenshot(c, shots, "live.png").await?;
    Ok(())
}
