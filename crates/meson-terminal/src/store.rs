//! The terminal's files under `--data-dir`.
//!
//! ```text
//! DATA_DIR/admin.token                 bearer token of the admin API (0600)
//! DATA_DIR/running                     present while a terminal runs; found at start-up = unclean stop
//! DATA_DIR/tmp/                        bodies being filled; emptied at start-up
//! DATA_DIR/objects/ab/<id>/meta.json   response head of one cached variant (the commit record)
//! DATA_DIR/objects/ab/<id>/<slice>.<root>       body of one slice, named by its BLAKE3 root
//! DATA_DIR/objects/ab/<id>/<slice>.<root>.obao  its Bao outboard
//! ```
//!
//! Every write goes to a temporary file that is renamed into place, so a reader sees a whole file or none.
//! Order makes the state after any crash safe: a slice's outboard, then its body, then `meta.json`; removal
//! deletes `meta.json` first. A slice whose body or outboard is missing or the wrong size, or whose outboard
//! does not hash to the root in its name, is deleted at start-up, and so is an object directory without
//! `meta.json`. Whether the body bytes still hash to the root is checked before first use after an unclean
//! stop and by the background scrub.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use meson_core::content::{self, Root};
use serde::{Deserialize, Serialize};

use crate::config::FsyncPolicy;
use crate::object::{ObjectId, ObjectMeta};

/// A store operation that failed, with the path it concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("corrupt metadata {path}: {reason}")]
    Meta { path: PathBuf, reason: String },
}

impl StoreError {
    /// True when the file system is out of space or quota: the node must stop admitting, not fail.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { source, .. }
            if matches!(source.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)))
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// One stored slice found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceFile {
    pub root: Root,
    pub len: u64,
}

/// One object found on disk at start-up.
#[derive(Debug)]
pub struct LoadedObject {
    pub id: ObjectId,
    pub meta: ObjectMeta,
    pub slices: BTreeMap<u32, SliceFile>,
}

/// What start-up found and repaired.
#[derive(Debug, Default)]
pub struct StartupReport {
    pub objects: Vec<LoadedObject>,
    /// The previous run did not stop cleanly: bodies must be re-hashed before they are trusted.
    pub unclean: bool,
    /// Files and directories removed because they were partial, orphaned or corrupt.
    pub removed: u64,
}

/// The disk half of the cache; the in-memory index lives in [`crate::cache`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    fsync: FsyncPolicy,
    tmp_seq: AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the data directory, empties `tmp/`, and checks every stored object.
    pub fn open(dir: &Path, fsync: FsyncPolicy) -> Result<(Store, StartupReport), StoreError> {
        for sub in ["objects", "tmp"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        let store = Store {
            dir: dir.to_owned(),
            fsync,
            tmp_seq: AtomicU64::new(0),
        };
        let mut report = StartupReport::default();
        let tmp = dir.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io_err("list", &tmp))? {
            let entry = entry.map_err(io_err("list", &tmp))?;
            remove_path(&entry.path());
            report.removed += 1;
        }
        let running = dir.join("running");
        report.unclean = running.exists();
        fs::write(&running, std::process::id().to_string()).map_err(io_err("write", &running))?;

        let objects = dir.join("objects");
        for shard in read_dir_paths(&objects)? {
            for obj_dir in read_dir_paths(&shard)? {
                match store.load_object(&obj_dir) {
                    Ok((Some(obj), removed)) => {
                        report.removed += removed;
                        report.objects.push(obj);
                    }
                    Ok((None, removed)) => {
                        report.removed += removed + 1;
                        remove_path(&obj_dir);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "removing unreadable object");
                        report.removed += 1;
                        remove_path(&obj_dir);
                    }
                }
            }
        }
        Ok((store, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a clean stop, so the next start trusts the bodies it finds without re-hashing them first.
    pub fn mark_clean_shutdown(&self) {
        let _ = fs::remove_file(self.dir.join("running"));
    }

    fn object_dir(&self, id: &ObjectId) -> PathBuf {
        let hex = id.to_string();
        self.dir.join("objects").join(&hex[..2]).join(hex)
    }

    fn slice_path(&self, id: &ObjectId, slice: u32, root: &Root) -> PathBuf {
        self.object_dir(id).join(format!("{slice}.{root}"))
    }

    fn outboard_path(&self, id: &ObjectId, slice: u32, root: &Root) -> PathBuf {
        self.object_dir(id).join(format!("{slice}.{root}.obao"))
    }

    /// Reads one object directory; returns None when it holds no usable object, and how many files it removed.
    fn load_object(&self, obj_dir: &Path) -> Result<(Option<LoadedObject>, u64), StoreError> {
        let Some(id) = obj_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<ObjectId>().ok())
        else {
            return Ok((None, 0));
        };
        let meta_path = obj_dir.join("meta.json");
        let meta: ObjectMeta = match fs::read(&meta_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Meta {
                path: meta_path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, 0)),
            Err(e) => return Err(io_err("read", &meta_path)(e)),
        };
        if meta.object_id() != id {
            return Err(StoreError::Meta {
                path: meta_path,
                reason: "key does not belong to this directory".into(),
            });
        }
        let mut slices = BTreeMap::new();
        let mut removed = 0;
        for path in read_dir_paths(obj_dir)? {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name == "meta.json" || name.ends_with(".obao") {
                continue;
            }
            match self.check_slice(&id, &meta, name) {
                Some((slice, file)) => {
                    slices.insert(slice, file);
                }
                None => {
                    tracing::warn!(path = %path.display(), "removing partial or corrupt slice");
                    remove_path(&path);
                    removed += 1;
                }
            }
        }
        // Outboards whose body is gone are orphans of an interrupted commit or removal.
        for path in read_dir_paths(obj_dir)? {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(body) = name.strip_suffix(".obao") {
                if !obj_dir.join(body).exists() {
                    remove_path(&path);
                    removed += 1;
                }
            }
        }
        Ok((Some(LoadedObject { id, meta, slices }), removed))
    }

    /// Checks one slice file: its name, its length against the object's, and its outboard against its root.
    fn check_slice(
        &self,
        id: &ObjectId,
        meta: &ObjectMeta,
        name: &str,
    ) -> Option<(u32, SliceFile)> {
        let (slice, root) = name.split_once('.')?;
        let slice: u32 = slice.parse().ok()?;
        let root: Root = root.parse().ok()?;
        let expected = meta.slice_len(slice)?;
        let len = fs::metadata(self.slice_path(id, slice, &root)).ok()?.len();
        if len != expected {
            return None;
        }
        let outboard = fs::read(self.outboard_path(id, slice, &root)).ok()?;
        content::verify_outboard(&root, len, &outboard).ok()?;
        Some((slice, SliceFile { root, len }))
    }

    /// A new, empty temporary file for a fill; it disappears at the next start-up unless committed.
    pub fn create_tmp(&self) -> Result<(PathBuf, File), StoreError> {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let path = self
            .dir
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        Ok((path, file))
    }

    /// Moves a finished body and its outboard into the object's directory.
    pub fn commit_slice(
        &self,
        id: &ObjectId,
        slice: u32,
        root: &Root,
        body_tmp: &Path,
        body: &File,
        outboard: &[u8],
    ) -> Result<(), StoreError> {
        let dir = self.object_dir(id);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        if self.fsync == FsyncPolicy::Always {
            body.sync_data().map_err(io_err("fsync", body_tmp))?;
        }
        self.write_atomic(&self.outboard_path(id, slice, root), outboard)?;
        let dest = self.slice_path(id, slice, root);
        fs::rename(body_tmp, &dest).map_err(io_err("rename", &dest))?;
        self.sync_dir(&dir)
    }

    /// Writes (or replaces) an object's `meta.json`: the record that makes its slices visible.
    pub fn write_meta(&self, id: &ObjectId, meta: &ObjectMeta) -> Result<(), StoreError> {
        let dir = self.object_dir(id);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let json = serde_json::to_vec(meta).expect("metadata serialises");
        self.write_atomic(&dir.join("meta.json"), &json)?;
        self.sync_dir(&dir)
    }

    fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, mut file) = self.create_tmp()?;
        let result = (|| {
            file.write_all(bytes).map_err(io_err("write", &tmp))?;
            if self.fsync == FsyncPolicy::Always {
                file.sync_data().map_err(io_err("fsync", &tmp))?;
            }
            fs::rename(&tmp, dest).map_err(io_err("rename", dest))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), StoreError> {
        if self.fsync == FsyncPolicy::Always {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("fsync", dir))?;
        }
        Ok(())
    }

    pub fn open_slice(&self, id: &ObjectId, slice: u32, root: &Root) -> Result<File, StoreError> {
        let path = self.slice_path(id, slice, root);
        File::open(&path).map_err(io_err("open", &path))
    }

    pub fn read_outboard(
        &self,
        id: &ObjectId,
        slice: u32,
        root: &Root,
    ) -> Result<Vec<u8>, StoreError> {
        let path = self.outboard_path(id, slice, root);
        fs::read(&path).map_err(io_err("read", &path))
    }

    pub fn remove_slice(&self, id: &ObjectId, slice: u32, root: &Root) {
        let _ = fs::remove_file(self.slice_path(id, slice, root));
        let _ = fs::remove_file(self.outboard_path(id, slice, root));
    }

    /// Removes an object; `meta.json` goes first so a crash midway leaves only orphans that start-up deletes.
    pub fn remove_object(&self, id: &ObjectId) {
        let dir = self.object_dir(id);
        let _ = fs::remove_file(dir.join("meta.json"));
        remove_path(&dir);
    }

    /// Free and total bytes of the file system holding the data directory.
    pub fn disk_space(&self) -> io::Result<(u64, u64)> {
        disk_space(&self.dir)
    }
}

/// Free (for unprivileged users) and total bytes of the file system holding `path`.
pub fn disk_space(path: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized, writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = st.f_frsize as u64;
    Ok((st.f_bavail as u64 * frsize, st.f_blocks as u64 * frsize))
}

fn read_dir_paths(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        out.push(entry.map_err(io_err("list", dir))?.path());
    }
    Ok(out)
}

fn remove_path(path: &Path) {
    let _ = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
}
