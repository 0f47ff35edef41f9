//! The main key used with SQLite when `main_key` is not configured: generated once and
//! stored in the data directory (mode 0600 on Unix), never printed or logged. It encrypts
//! the endpoint secrets in the database; whoever has both files has the secrets, so back
//! it up apart from the database. PostgreSQL nodes must share one configured key instead.

use crate::admin_token::write_private;
use anyhow::Context;
use hookd_store::secrets::MainKey;
use std::path::Path;

/// The file in the data directory holding the generated key (base64).
pub const FILE_NAME: &str = "main-key";

/// Reads the stored main key; `None` when the data directory has none.
pub fn load(data_dir: &Path) -> anyhow::Result<Option<MainKey>> {
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => MainKey::from_base64(&text)
            .map(Some)
            .with_context(|| format!("the main key in {} is not valid", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Reads the stored main key, or generates and stores a new one.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<MainKey> {
    if let Some(key) = load(data_dir)? {
        return Ok(key);
    }
    let path = data_dir.join(FILE_NAME);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let (key, text) = MainKey::generate();
    write_private(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(
        path = %path.display(),
        main_key.id = key.id(),
        "generated the main key that encrypts endpoint secrets; back it up"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generates_once_then_reads_back_privately() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::load_or_create(dir.path()).unwrap();
        assert_eq!(super::load_or_create(dir.path()).unwrap().id(), first.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir.path().join(super::FILE_NAME)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(super::FILE_NAME), "bad").unwrap();
        assert!(super::load_or_create(dir.path()).is_err());
    }
}
