//! The admin token used when `HOOKD_ADMIN_TOKEN` is not set: generated once, stored in
//! the data directory (mode 0600 on Unix), and printed once on the run that created it.

use crate::config::AdminTokenSource;
use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use std::path::Path;

const FILE_NAME: &str = "admin-token";

/// Reads the stored token, or generates, stores and prints a new one.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("hookd_{}", URL_SAFE_NO_PAD.encode(bytes));
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    // Deliberately printed (not logged): the operator needs it once; it never enters logs.
    println!(
        "Generated an admin token (stored in {}):\n  {token}",
        path.display()
    );
    Ok(token)
}

/// Logs which admin token is in force (never the token). A token given by environment,
/// flag or config file wins over a stored one: say so, or an operator reading the stored
/// file would wonder why it is refused.
pub fn log_source(source: AdminTokenSource, data_dir: &Path) {
    let (name, what) = match source {
        AdminTokenSource::Env => ("env", "the HOOKD_ADMIN_TOKEN environment variable"),
        AdminTokenSource::Flag => ("flag", "the --admin-token flag"),
        AdminTokenSource::File => ("config", "admin_token in the configuration file"),
        AdminTokenSource::Stored => ("stored", "the token file in the data directory"),
    };
    tracing::info!(admin_token.source = name, "admin token: {what}");
    let stored = data_dir.join(FILE_NAME);
    if source != AdminTokenSource::Stored && stored.exists() {
        tracing::warn!(
            admin_token.source = name,
            file = %stored.display(),
            "a stored admin token file exists but is ignored: {what} takes precedence"
        );
    }
}

/// Creates `path` (failing if it exists) readable by its owner only, with `text`.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generates_once_then_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::load_or_create(dir.path()).unwrap();
        assert!(first.starts_with("hookd_") && first.len() > 40);
        assert_eq!(super::load_or_create(dir.path()).unwrap(), first);
    }
}
