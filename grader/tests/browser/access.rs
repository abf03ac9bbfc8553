//! Logged out, with only a student's token: every instructor page, asked
//! from the browser with the token as a bearer header, lands on the login
//! page and shows nothing of the course.

use anyhow::ensure;
use fantoccini::Client;

use super::*;

/// Every instructor page a student might try (GET).
fn instructor_pages(f: &Fixture) -> Vec<String> {
    let mut pages: Vec<String> = [
        "/dashboard",
        "/dashboard/gradebook",
        "/dashboard/exercises/warmup",
        "/dashboard/students/s1",
        "/dashboard/roster",
        "/dashboard/regrades",
        "/dashboard/regrades/1",
        "/dashboard/export.csv",
        "/dashboard/events",
    ]
    .map(String::from)
    .into();
    pages.push(format!("/dashboard/submissions/{}", f.wrong_id));
    pages.push(format!("/dashboard/students/s1/diff?a={}&b={}", f.wrong_id, f.good_id));
    pages
}

pub async fn student_token_refused(c: &Client, f: &Fixture) -> anyhow::Result<()> {
    c.goto(&format!("{}/student", f.url)).await?;
    // WebDriver waits for the promise a script returns.
    let js = r#"
        const [paths, token] = arguments;
        return (async () => {
            const out = [];
            for (const p of paths) {
                const r = await fetch(p, { headers: { Authorization: `Bearer ${token}` } });
                const body = await r.text();
                out.push({ path: p, url: r.url, status: r.status, login: body.includes('Instructor login') });
            }
            return out;
        })();"#;
    let paths = instructor_pages(f);
    let seen = c.execute(js, vec![serde_json::json!(paths), serde_json::json!(f.tokens[0])]).await?;
    let seen = seen.as_array().cloned().unwrap_or_default();
    ensure!(seen.len() == paths.len(), "every page was asked: {seen:?}");
    for s in &seen {
        let url = s["url"].as_str().unwrap_or_default();
        ensure!(
            url.ends_with("/login") && s["status"] == 200 && s["login"] == true,
            "a student's token reached an instructor page: {s}"
        );
    }
    Ok(())
}
