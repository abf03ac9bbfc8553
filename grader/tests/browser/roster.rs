//! The roster: a class list imported through the page's file input, each
//! new token shown once with a printable sheet whose link logs the student
//! in through the URL fragment; the gradebook's CSV download.

use std::path::Path;

use anyhow::{ensure, Context as _};
use fantoccini::{Client, Locator};

use super::*;

/// Imports two students (one named with markup, one like a formula) and
/// returns r1's new token.
pub async fn import(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<String> {
    let url = &f.url;
    c.goto(&format!("{url}/dashboard/roster")).await?;
    wait_for_xpath(c, "//h1[text()='Roster']").await?;
    let dir = tempdir();
    let csv = dir.path().join("class.csv");
    std::fs::write(
        &csv,
        "id,name,email\nr1,<img src=x onerror=window.__xss=1>Rosa,rosa@example.org\nr2,=cmd Ray,ray@example.org\n",
    )?;
    c.find(Locator::Css("#import input[type=file]")).await?.send_keys(&csv.display().to_string()).await?;
    c.find(Locator::Css("#import button")).await?.click().await?;
    wait_for_xpath(c, "//h1[text()='New tokens']").await?;
    let msg = wait_for(c, "#message").await?.text().await?;
    ensure!(msg.contains("Imported 2 student(s)"), "message: {msg:?}");
    let mut tokens = Vec::new();
    for t in c.find_all(Locator::Css("#tokens code.token")).await? {
        tokens.push(t.text().await?);
    }
    ensure!(tokens.len() == 2 && tokens.iter().all(|t| t.len() == 64), "two new tokens: {tokens:?}");
    // The sheet: one card per student, the name as text, the full link with
    // the token in the fragment.
    let cards = c.find_all(Locator::Css("#sheet .card")).await?;
    ensure!(cards.len() == 2, "{} cards", cards.len());
    let first = cards[0].text().await?;
    ensure!(first.contains("<img src=x onerror=window.__xss=1>Rosa") && first.contains("(r1)"), "card: {first:?}");
    let link = cards[0].find(Locator::Css("a.link")).await?;
    let shown = link.text().await?;
    ensure!(shown == format!("{url}/student#token={}", tokens[0]), "sheet link: {shown:?}");
    let xss = c.execute("return window.__xss === undefined", vec![]).await?;
    ensure!(xss == true, "a name ran as markup");
    screenshot(c, shots, "roster-tokens.png").await?;

    // The sheet's link: the student page logs in from the fragment, which
    // is gone from the address bar (and was never sent to the server).
    link.click().await?;
    wait_for_xpath(c, "//p[text()='Student r1.']").await?;
    let now = c.current_url().await?;
    ensure!(now.path() == "/student" && now.fragment().is_none(), "the token stays in the address bar: {now}");
    screenshot(c, shots, "roster-sheet-link.png").await?;

    // The roster shows them with one live token each, and no token.
    c.goto(&format!("{url}/dashboard/roster")).await?;
    let row = wait_for(c, "#roster tr[data-student=r1]").await?;
    let text = row.text().await?;
    ensure!(text.contains("<img src=x onerror=window.__xss=1>Rosa") && text.contains("rosa@example.org"), "{text:?}");
    let live = row.find(Locator::Css("td.tokens")).await?.text().await?;
    ensure!(live == "1", "r1's live tokens: {live:?}");
    let source = c.source().await?;
    ensure!(tokens.iter().all(|t| !source.contains(t.as_str())), "a token is shown again on the roster");
    screenshot(c, shots, "roster.png").await?;

    // The export, as the browser downloads it.
    let js = r#"
        return fetch('/dashboard/export.csv').then(async (r) => ({
            status: r.status, type: r.headers.get('content-type'),
            disposition: r.headers.get('content-disposition'), text: await r.text(),
        }));"#;
    let got = c.execute(js, vec![]).await.context("fetching the export")?;
    ensure!(got["status"] == 200, "export: {got}");
    ensure!(got["type"].as_str().unwrap_or_default().starts_with("text/csv"), "export: {got}");
    let disposition = got["disposition"].as_str().unwrap_or_default();
    ensure!(
        disposition.starts_with("attachment; filename=\"distlab-grades-") && disposition.ends_with(".csv\""),
        "export: {got}"
    );
    let text = got["text"].as_str().unwrap_or_default();
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().collect::<Result<_, _>>().context("export CSV")?;
    let by_id = |id: &str| rows.iter().find(|r| r.get(2) == Some(id)).cloned();
    let s0 = by_id("s0").context("s0 in the export")?;
    ensure!(s0.get(s0.len() - 1) == Some("5.00"), "s0's total: {s0:?}");
    let r2 = by_id("r2").context("r2 in the export")?;
    ensure!(r2.get(0) == Some("'=cmd Ray"), "a formula-like name is made text: {r2:?}");
    let r1 = by_id("r1").context("r1 in the export")?;
    ensure!(r1.get(0) == Some("<img src=x onerror=window.__xss=1>Rosa"), "{r1:?}");

    Ok(tokens[0].clone())
}
