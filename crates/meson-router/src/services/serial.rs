//! Ticket serials: unique for the life of the data directory, so a serial accepted in usage can never be
//! issued again (which would make the second ticket's usage a "duplicate" and leave it unpaid).
//!
//! Serials are handed out from an in-memory counter inside a block reserved on disk: the file `serials`
//! holds the first serial not yet reserved, and a new block is written (and fsynced, via a renamed
//! temporary file) *before* any of its serials is used. A crash loses at most the rest of a block, never
//! reuses one. Random serials would need no file but collide (birthday bound) once in ~2³² tickets.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::RouterError;

/// Serials reserved per disk write: one fsync per million redirects.
const BLOCK: u64 = 1 << 20;

pub(crate) struct Serials {
    path: PathBuf,
    /// (next serial to hand out, first serial not reserved).
    range: Mutex<(u64, u64)>,
}

impl Serials {
    pub fn open(path: &Path) -> Result<Self, RouterError> {
        let err = |source| RouterError::Serials {
            path: path.to_owned(),
            source,
        };
        let next = match std::fs::read_to_string(path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(err(e)),
        };
        Ok(Serials {
            path: path.to_owned(),
            range: Mutex::new((next, next)),
        })
    }

    /// The next serial; a disk write once per block.
    pub fn next(&self) -> Result<u64, RouterError> {
        let mut range = self.range.lock().unwrap_or_else(|e| e.into_inner());
        if range.0 == range.1 {
            let limit = range
                .1
                .checked_add(BLOCK)
                .ok_or_else(|| RouterError::Serials {
                    path: self.path.clone(),
                    source: std::io::Error::other("serials exhausted"),
                })?;
            self.persist(limit).map_err(|source| RouterError::Serials {
                path: self.path.clone(),
                source,
            })?;
            range.1 = limit;
        }
        let serial = range.0;
        range.0 += 1;
        Ok(serial)
    }

    fn persist(&self, limit: u64) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(format!("{limit}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_directory_never_reissues_a_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serials");
        let first = Serials::open(&path).unwrap();
        let a = first.next().unwrap();
        let b = first.next().unwrap();
        assert_eq!(b, a + 1);
        drop(first);
        let again = Serials::open(&path).unwrap();
        assert!(again.next().unwrap() > b);
    }
}
