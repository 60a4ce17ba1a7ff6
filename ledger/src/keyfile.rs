//! Key files. Private keys use the Go `note` encoding
//! (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`), public keys the
//! C2SP vkey encoding; private key files are created with mode 0600.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use crate::note::{NoteSigner, VerifierKey};

/// Writes a secret with mode 0600, created that way (never readable by
/// others, not even for an instant). Refuses to overwrite an existing file.
pub fn write_secret(path: &Path, contents: &str) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// `<prefix>.<extension>`, the extension added even when the prefix has a
/// dot of its own (`keys/gd.rst` gives `keys/gd.rst.key`).
pub fn with_added_extension(prefix: &Path, extension: &str) -> std::path::PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    name.into()
}

/// Writes `<prefix>.key` (0600) and `<prefix>.vkey` for a signer.
pub fn write_key_pair(prefix: &Path, signer: &NoteSigner) -> io::Result<()> {
    write_secret(
        &with_added_extension(prefix, "key"),
        &signer.encode_private(),
    )?;
    fs::write(
        with_added_extension(prefix, "vkey"),
        format!("{}\n", signer.verifier().encode()),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    // The causes are part of the message, not error sources: a tool
    // printing the whole chain would say them twice.
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: io::Error },
    #[error("{path} is a private key that other users may read (mode {mode:03o}); allow its owner only: chmod 600 {path}")]
    Exposed { path: String, mode: u32 },
    #[error("{path} does not hold a key: {error}")]
    Format {
        path: String,
        error: crate::note::NoteError,
    },
}

/// Reads a private key file. A file that group or others may read (or
/// write) is refused, as ssh refuses one: whoever else could read it may
/// have signed with it.
pub fn read_signer(path: &Path) -> Result<NoteSigner, KeyFileError> {
    let p = shown_path(path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|error| KeyFileError::Io {
                path: p.clone(),
                error,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: p,
                mode: mode & 0o777,
            });
        }
    }
    let text = fs::read_to_string(path).map_err(|error| KeyFileError::Io {
        path: p.clone(),
        error,
    })?;
    NoteSigner::parse(&text).map_err(|error| KeyFileError::Format { path: p, error })
}

/// How a path given for a key is shown: as given, unless it is in fact a
/// private key pasted in place of a file name (never repeated).
fn shown_path(path: &Path) -> String {
    let p = path.display().to_string();
    if p.contains("PRIVATE+KEY") {
        "the key given (a private key, not a file name; not shown)".to_owned()
    } else {
        p
    }
}

/// Reads a vkey from a file, or takes the argument itself as a vkey. An
/// error names the file, or the argument if it is not a file (unless it is
/// a private key: that is never repeated).
pub fn read_vkey(file_or_vkey: &str) -> Result<VerifierKey, KeyFileError> {
    let (text, shown) = match fs::read_to_string(file_or_vkey) {
        Ok(text) => (text, file_or_vkey.to_owned()),
        Err(_) if file_or_vkey.contains("PRIVATE+KEY") => {
            (file_or_vkey.to_owned(), "the key given".to_owned())
        }
        Err(_) => (file_or_vkey.to_owned(), format!("{file_or_vkey:?}")),
    };
    VerifierKey::parse(text.trim()).map_err(|error| KeyFileError::Format { path: shown, error })
}
