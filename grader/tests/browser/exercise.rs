//! An exercise's page: its check pass rates, and a deadline typed in the
//! browser's own time zone and stored in UTC.

use std::path::Path;

use anyhow::ensure;
use fantoccini::{Client, Locator};

use super::*;

pub async fn deadlines(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    let url = &f.url;
    c.goto(&format!("{url}/dashboard")).await?;
    c.find(Locator::XPath("//table[@id='exercises']//a[text()='warmup']")).await?.click().await?;
    wait_for_xpath(c, "//h1[starts-with(., 'warmup:')]").await?;
    // One of the two students' best submissions fails the check.
    let row = c.find(Locator::XPath("//table[@id='check-rates']//tr[td[1]/a='node 0 hears from everyone']")).await?;
    let text = row.text().await?;
    ensure!(text.contains("50 %") && text.contains("1 of 2"), "pass rate of the failing check: {text:?}");

    // 12:00 on 15 January typed in New York is 17:00 UTC.
    let zone = c.find(Locator::Css("#settings .zone")).await?.text().await?;
    ensure!(zone == BROWSER_ZONE, "the form names the browser's zone: {zone:?}");
    c.execute("document.querySelector('#settings input[name=deadline]').value = '2030-01-15T12:00'", vec![]).await?;
    fill(c, "#settings input[name=late_penalty]", "0.25").await?;
    c.find(Locator::Css("#settings button")).await?.click().await?;
    let msg = wait_for(c, "#message").await?.text().await?;
    ensure!(msg.contains("Saved the deadlines of warmup"), "message: {msg:?}");
    let input = c.find(Locator::Css("#settings input[name=deadline]")).await?;
    let (shown, utc) = (input.prop("value").await?, input.attr("data-utc").await?);
    ensure!(shown.as_deref() == Some("2030-01-15T12:00"), "shown again in New York time: {shown:?}");
    ensure!(utc.as_deref() == Some("2030-01-15T17:00:00.000000Z"), "stored in UTC: {utc:?}");
    let late = c.find(Locator::Css("#settings input[name=late_deadline]")).await?.prop("value").await?;
    ensure!(late.as_deref() == Some(""), "the late deadline stays empty: {late:?}");
    screenshot(c, shots, "exercise.png").await?;
    Ok(())
}
