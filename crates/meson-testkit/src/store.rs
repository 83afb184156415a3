//! What a terminal stored under its data directory: finding, checking and damaging body files.
//!
//! The layout read here: `DATA_DIR/objects/<shard>/<object>/meta.json` (the object's head, with its `key`),
//! `…/<slice>.<root>` (a slice's body) and `…/<slice>.<root>.obao` (its outboard).

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{b3, Origin};

/// Every stored body file (not outboards, not `meta.json`) under `DATA_DIR/objects`, committed or not.
pub fn body_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(data_dir.join("objects")).unwrap() {
        for obj in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            for f in std::fs::read_dir(obj.unwrap().path()).unwrap() {
                let f = f.unwrap();
                let name = f.file_name().to_string_lossy().to_string();
                if name != "meta.json" && !name.ends_with(".obao") {
                    out.push(f.path());
                }
            }
        }
    }
    out
}

/// The body files of committed objects (those with a `meta.json`), with their object's key:
/// `(key, slice index, path)`.
pub fn stored_bodies(data_dir: &Path) -> Vec<(String, u32, PathBuf)> {
    let mut keys: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for f in body_files(data_dir) {
        let obj = f.parent().unwrap().to_path_buf();
        let key = keys.entry(obj).or_insert_with_key(|obj| {
            let meta = std::fs::read(obj.join("meta.json")).ok()?;
            let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
            Some(
                meta["key"]
                    .as_str()
                    .expect("meta.json has a key")
                    .to_string(),
            )
        });
        let Some(key) = key else { continue };
        let name = f.file_name().unwrap().to_str().unwrap();
        let Some((slice, _root)) = name.split_once('.') else {
            continue;
        };
        out.push((key.clone(), slice.parse().unwrap(), f));
    }
    out
}

/// The stored body file of slice `slice` of the object whose key has the path (and query) `path`.
pub fn body_file(data_dir: &Path, path: &str, slice: u32) -> PathBuf {
    stored_bodies(data_dir)
        .into_iter()
        .find(|(k, s, _)| key_path(k) == path && *s == slice)
        .map(|(_, _, p)| p)
        .unwrap_or_else(|| panic!("no stored body for {path} slice {slice}"))
}

/// The path and query of a stored object's key (`127.0.0.1:PORT/path?query`).
pub fn key_path(key: &str) -> &str {
    &key[key.find('/').expect("key has a path")..]
}

/// Slices a body of `len` bytes has with `slice_size`.
pub fn slice_count(len: usize, slice_size: usize) -> usize {
    if len <= slice_size {
        1
    } else {
        len.div_ceil(slice_size)
    }
}

/// Checks every object of an admin listing (`/v1/admin/objects`) against the origin: status 200, size, and
/// each slice's `len` and `root` equal to the BLAKE3 of the bytes it covers. Returns, per path and query, how
/// many slices are stored.
pub fn check_listing(
    objects: &[serde_json::Value],
    origin: &Origin,
    slice_size: usize,
) -> HashMap<String, usize> {
    let mut stored = HashMap::new();
    for o in objects {
        let key = o["key"].as_str().expect("key");
        let pq = key_path(key);
        let body = origin.body(pq);
        let len = body.len();
        assert_eq!(o["status"], 200, "{key}: status in {o}");
        assert_eq!(o["size"].as_u64(), Some(len as u64), "{key}: size in {o}");
        let sliced = o["sliced"].as_bool().expect("sliced");
        let s = if sliced { slice_size } else { len };
        if !sliced {
            assert!(
                len <= slice_size,
                "{key}: {len} bytes stored unsliced with slice size {slice_size}"
            );
        }
        let slices = o["slices"].as_array().expect("slices");
        for sl in slices {
            let i = sl["index"].as_u64().expect("index") as usize;
            let start = i * s;
            assert!(start < len.max(1), "{key}: slice {i} past the end in {o}");
            let end = ((i + 1) * s).min(len);
            assert_eq!(
                sl["len"].as_u64(),
                Some((end - start) as u64),
                "{key}: slice {i} len in {o}"
            );
            assert_eq!(
                sl["root"].as_str(),
                Some(b3(&body[start..end]).as_str()),
                "{key}: slice {i} root is not the BLAKE3 of bytes {start}..{end} of the origin's body"
            );
        }
        assert!(
            stored.insert(pq.to_string(), slices.len()).is_none(),
            "{key} listed twice"
        );
    }
    stored
}

/// Flips every bit of the byte at offset `at` of a file.
pub fn flip_byte(path: &Path, at: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0xff;
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
}

/// Flips every bit of the byte in the middle of a file.
pub fn flip_middle_byte(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    assert!(len > 0, "{} is empty", path.display());
    flip_byte(path, len / 2);
}

/// Cuts a file to `len` bytes.
pub fn truncate_to(path: &Path, len: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
    f.sync_all().unwrap();
}

/// Cuts a file to half its length.
pub fn truncate_half(path: &Path) {
    truncate_to(path, std::fs::metadata(path).unwrap().len() / 2);
}

/// Overwrites the second half of a file with zeros, keeping its length (what a power loss can leave).
pub fn zero_tail(path: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.write_all_at(&vec![0u8; (len - len / 2) as usize], len / 2)
        .unwrap();
    f.sync_all().unwrap();
}
