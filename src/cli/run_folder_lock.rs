//! One `slimmable train` per run folder: an exclusive lock on
//! `OUT/.slimmable-lock`, so a second run cannot interleave its saves with
//! the first's.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = ".slimmable-lock";

const BUSY: &str = "another `slimmable train` is running in this folder; wait for it to finish, or give another --out";

/// Held for the run; the OS releases the lock however the process ends,
/// and dropping it also removes the file.
pub struct RunFolderLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl Drop for RunFolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the folder's lock, or says another run holds it.
pub fn lock(out: &Path) -> Result<RunFolderLock> {
    let path = out.join(LOCK_FILE);
    // A run that ends removes the file while it still holds the lock; a
    // start that opened the file just before then locks a removed file,
    // which guards nothing. Such a start sees that the path no longer
    // names its file and tries again; a couple of times is plenty.
    for _ in 0..3 {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) if !names_the_same_file(&path, &file) => continue,
            Ok(()) => return Ok(RunFolderLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::io(out, BUSY)),
            // A file system without locks (some network mounts) must not
            // stop a run: it only loses the guard against a second one.
            Err(std::fs::TryLockError::Error(e)) => {
                eprintln!(
                    "train: cannot lock {} ({e}); a second run into this folder would not be refused",
                    path.display()
                );
                return Ok(RunFolderLock { _file: file, path });
            }
        }
    }
    Err(Error::io(out, BUSY))
}

/// Whether `path` still names the open `file` (it may have been removed
/// and created anew since it was opened).
#[cfg(unix)]
fn names_the_same_file(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// Elsewhere the check is skipped (no inode numbers to compare).
#[cfg(not(unix))]
fn names_the_same_file(_path: &Path, _file: &std::fs::File) -> bool {
    true
}

/// An error when a running `slimmable train` holds the folder, checked
/// without taking the lock: `--resume` asks before it reads a checkpoint
/// that the running one may not have written yet.
pub fn refuse_if_busy(out: &Path) -> Result<()> {
    let Ok(file) = std::fs::File::open(out.join(LOCK_FILE)) else {
        return Ok(());
    };
    match file.try_lock_shared() {
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::io(out, BUSY)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("slimmable-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = scratch_folder("second");
        let first = lock(&dir).unwrap();
        let text = lock(&dir).err().expect("must be refused").to_string();
        assert!(text.contains("another `slimmable train`"), "{text}");
        assert!(refuse_if_busy(&dir).is_err());
        drop(first);
        assert!(
            !dir.join(LOCK_FILE).exists(),
            "the lock file is removed at the end"
        );
        assert!(refuse_if_busy(&dir).is_ok());
        drop(lock(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_removed_and_created_anew_is_not_the_one_held_open() {
        let dir = scratch_folder("renamed");
        let path = dir.join(LOCK_FILE);
        let held = std::fs::File::create(&path).unwrap();
        assert!(names_the_same_file(&path, &held));
        std::fs::remove_file(&path).unwrap();
        assert!(!names_the_same_file(&path, &held), "removed");
        let _new = std::fs::File::create(&path).unwrap();
        assert!(!names_the_same_file(&path, &held), "created anew");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
