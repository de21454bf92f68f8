//! A file on disk → [`read`](crate::read): the one guarded entry point of the console's Bulk
//! Add and `vcms account import`.

use std::io::Read;
use std::path::Path;

use crate::read::{read, Format, Limits, ReadError, Sheet};

/// Read the spreadsheet at `path`. Only a regular file is read (a device such as
/// `/dev/zero`, a FIFO, a socket or a directory is refused before anything is read, also
/// behind a symlink), and never more than `limits.max_file_bytes` bytes of it, whatever its
/// size said when it was opened.
pub fn read_path(
    path: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sheet, ReadError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Format::from_name(&name).ok_or_else(|| {
        ReadError::UnknownType(
            path.extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or(name.clone()),
        )
    })?;
    // The type as the path shows it (symlinks followed), before opening: opening a FIFO
    // would wait for a writer.
    let meta = std::fs::metadata(path)
        .map_err(|e| ReadError::Corrupt(format!("cannot open {}: {e}", path.display())))?;
    regular(&meta)?;
    let file = open(path)
        .map_err(|e| ReadError::Corrupt(format!("cannot open {}: {e}", path.display())))?;
    // And again on what was opened, in case the path was swapped in between.
    let meta = file
        .metadata()
        .map_err(|e| ReadError::Corrupt(format!("cannot read {}: {e}", path.display())))?;
    regular(&meta)?;
    if meta.len() > limits.max_file_bytes {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            max: limits.max_file_bytes,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Corrupt(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    read(&bytes, &name, limits, progress)
}

fn regular(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let kind = if t.is_dir() {
        "a directory"
    } else {
        special_kind(&t)
    };
    Err(ReadError::NotAFile { kind })
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else {
        "some other kind of file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "some other kind of file"
}

/// Open for reading without blocking on a FIFO swapped in after the check.
#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}
