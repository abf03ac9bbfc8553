//! The course overview: each exercise's histogram of best scores and the
//! checks that fail most, linked to the submissions that fail them.

use std::path::Path;

use anyhow::ensure;
use fantoccini::{Client, Locator};

use super::*;

pub async fn summary(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    c.goto(&format!("{}/dashboard", f.url)).await?;
    wait_for_xpath(c, "//h1[text()='Course overview']").await?;
    let row = c.find(Locator::Css("#exercises tr[data-exercise=warmup]")).await?;
    let bars = row.find_all(Locator::Css("svg.histogram rect")).await?;
    ensure!(bars.len() == distlab_grader::stats::BINS, "one bar per slice of the points: {}", bars.len());
    let text = row.text().await?;
    ensure!(text.contains("warmup") && text.contains(" / 5"), "warmup's row: {text:?}");
    let (_, _, w, h) = row.find(Locator::Css("svg.histogram")).await?.rectangle().await?;
    ensure!(w > 100.0 && h > 50.0, "the histogram is drawn: {w}x{h}");
    // The failing check is in the heat map and links to its failing submissions.
    let hot = c.find(Locator::XPath("//table[@id='heat']//tr[td[2]/a='node 0 hears from everyone']")).await?;
    let hot = hot.text().await?;
    ensure!(hot.contains("50 %") && hot.contains("1 of 2"), "heat map row: {hot:?}");
    screenshot(c, shots, "overview.png").await?;
    c.find(Locator::XPath("//table[@id='heat']//a[text()='node 0 hears from everyone']")).await?.click().await?;
    wait_for_xpath(c, "//h2[contains(., 'whose best fails')]").await?;
    let listed = c.find_all(Locator::Css("#exercise-submissions tbody tr")).await?;
    ensure!(listed.len() == 1, "only the wrong submission fails it: {} rows", listed.len());
    let id = listed[0].find(Locator::Css("td a")).await?.text().await?;
    ensure!(id == f.wrong_id.to_string(), "the wrong submission is listed: {id}");
    Ok(())
}
