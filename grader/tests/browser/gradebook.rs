//! The gradebook grid: one row per student, scores under their exercise.

use std::path::Path;

use anyhow::{anyhow, ensure, Context as _};
use fantoccini::{Client, Locator};

use super::*;

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

pub async fn grid(c: &Client, f: &Fixture, shots: &Path) -> anyhow::Result<()> {
    c.goto(&format!("{}/dashboard/gradebook", f.url)).await?;
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
    screenshot(c, shots, "gradebook.png").await?;

    // Sorted by warmup: a click on its header puts the lower score first, a
    // second click the higher; the filter keeps the matching student only.
    let order = || async {
        let mut ids = Vec::new();
        for r in c.find_all(Locator::Css("#gradebook tr[data-student]")).await? {
            ids.push(r.attr("data-student").await?.unwrap_or_default());
        }
        anyhow::Ok(ids)
    };
    let header = "//table[@id='gradebook']//th/a[text()='warmup']";
    c.find(Locator::XPath(header)).await?.click().await?;
    wait_for_xpath(c, "//table[@id='gradebook']//th[contains(., 'warmup ▲')]").await?;
    ensure!(order().await? == ["s1", "s0"], "ascending by warmup: {:?}", order().await?);
    c.find(Locator::XPath(header)).await?.click().await?;
    wait_for_xpath(c, "//table[@id='gradebook']//th[contains(., 'warmup ▼')]").await?;
    ensure!(order().await? == ["s0", "s1"], "descending by warmup: {:?}", order().await?);
    fill(c, "#filter input[name=q]", "s1").await?;
    c.find(Locator::XPath("//form[@id='filter']//button[text()='Filter']")).await?.click().await?;
    wait_for_xpath(c, "//p[contains(., 'matching “s1”')]").await?;
    ensure!(order().await? == ["s1"], "filtered: {:?}", order().await?);
    let sorted = c.current_url().await?;
    ensure!(sorted.query().unwrap_or_default().contains("sort=warmup"), "the filter keeps the sort: {sorted}");
    screenshot(c, shots, "gradebook-sorted-filtered.png").await?;
    Ok(())
}
