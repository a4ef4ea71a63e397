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
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(RunFolderLock { _file: file, path }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::io(out, BUSY)),
        // A file system without locks (some network mounts) must not stop
        // a run: it only loses the guard against a second one.
        Err(std::fs::TryLockError::Error(e)) => {
            eprintln!(
                "train: cannot lock {} ({e}); a second run into this folder would not be refused",
                path.display()
            );
            Ok(RunFolderLock { _file: file, path })
        }
    }
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
