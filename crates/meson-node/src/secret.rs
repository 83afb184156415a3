//! Secret files that a server creates on first run and reads on every later one: a node's ed25519 key
//! (terminals and the router) and the terminal's admin token. Created with `O_EXCL` and mode 0600, synced
//! before use, so two processes starting on one directory agree on one secret and nobody else can read it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use meson_core::identity::NodeKey;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct KeyFileError {
    pub path: PathBuf,
    pub reason: String,
}

/// The trimmed text of `path`, or `generate()` written there (mode 0600) if the file is missing or empty.
pub fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> Result<String, KeyFileError> {
    let err = |reason: String| KeyFileError {
        path: path.to_owned(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        // An empty file is what a crash between create and write leaves: replace it.
        Ok(_) => std::fs::remove_file(path).map_err(|e| err(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e.to_string())),
    }
    let secret = generate();
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(mut f) => {
            f.write_all(format!("{secret}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| err(e.to_string()))?;
            Ok(secret)
        }
        // Another process created it between our read and our create: theirs wins.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| err(e.to_string())),
        Err(e) => Err(err(e.to_string())),
    }
}

/// The node key in `path`, created from OS randomness on first run.
pub fn load_or_create_node_key(path: &Path) -> Result<NodeKey, KeyFileError> {
    let text = load_or_create(path, || {
        NodeKey::from_secret_bytes(rand::random()).to_secret_text()
    })?;
    NodeKey::from_secret_text(&text).map_err(|e| KeyFileError {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/node.key");
        let first = load_or_create_node_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_node_key(&path).unwrap().id(), first.id());
    }

    #[test]
    fn an_empty_file_is_replaced_and_a_corrupt_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        std::fs::write(&path, "").unwrap();
        assert!(load_or_create_node_key(&path).is_ok());
        std::fs::write(&path, "not a key").unwrap();
        let e = load_or_create_node_key(&path).unwrap_err();
        assert!(e.to_string().contains("node.key"), "{e}");
    }
}
