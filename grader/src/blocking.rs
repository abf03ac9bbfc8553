//! The one way handlers run blocking work (SQLite, argon2) off the async
//! runtime. Each side turns the failure into its own answer with `?`
//! through `From<anyhow::Error>`: JSON for the API (`api::ApiError`), an
//! HTML sentence for pages (`pages::PageError`).

/// Runs `f` on tokio's blocking pool; a panic in it is an error too.
pub async fn blocking<R>(f: impl FnOnce() -> anyhow::Result<R> + Send + 'static) -> anyhow::Result<R>
where
    R: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(join) => Err(anyhow::Error::new(join).context("blocking task failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_errors_and_panics() {
        assert_eq!(blocking(|| Ok(3)).await.unwrap(), 3);
        let e = blocking::<()>(|| anyhow::bail!("disk full")).await.unwrap_err();
        assert_eq!(format!("{e:#}"), "disk full");
        let e = blocking::<()>(|| panic!("boom")).await.unwrap_err();
        assert!(format!("{e:#}").contains("blocking task failed"), "{e:#}");
    }
}
