//! Command-line plumbing shared by `notary`, `dept`, `verifier` and `loadgen`.
//!
//! `println!` panics when stdout is a pipe whose reader has gone away
//! (`dept submit … | head -1`): Rust ignores SIGPIPE, so the write fails with
//! `EPIPE` and the macro turns that into a panic and a backtrace. A tool's
//! output is for its reader; once the reader has left, the tool should stop
//! writing and finish its work with the exit status it would have had.
//!
//! The macros here do that: [`outln!`] writes a line to stdout and, once a
//! write found the reader gone, writes nothing more; [`errln!`] writes a line
//! to stderr and ignores failure. Any other failure to write stdout (a full
//! disk behind `> receipt.json`) is not the end of the output but a failure
//! of the tool: it is remembered, and [`exit_code`] turns it into a message
//! and a non-zero exit.

use std::fmt;
use std::io::{ErrorKind, Write as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The reader of stdout has gone away: output ends, quietly.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Writing stdout failed otherwise: the first error.
static STDOUT_FAILED: OnceLock<String> = OnceLock::new();

/// Writes one line to stdout, unless an earlier write could not be made.
/// Returns whether the line was written.
pub fn write_stdout(args: fmt::Arguments) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) || STDOUT_FAILED.get().is_some() {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    // Flush now: a failure must be seen here, not when stdout is dropped.
    match written.and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            false
        }
        Err(e) => {
            let _ = STDOUT_FAILED.set(e.to_string());
            false
        }
    }
}

/// Why writing stdout failed, if it did (a closed pipe is not a failure).
pub fn stdout_error() -> Option<&'static str> {
    STDOUT_FAILED.get().map(String::as_str)
}

/// The exit status to end with: `code`, unless writing stdout failed, in
/// which case the failure is reported and the status is 2.
pub fn exit_code(code: ExitCode) -> ExitCode {
    match stdout_error() {
        Some(e) => {
            write_stderr(format_args!("cannot write the output: {e}"));
            ExitCode::from(2)
        }
        None => code,
    }
}

/// Writes one line to stderr; a closed stderr is ignored.
pub fn write_stderr(args: fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `println!` that ends output quietly when stdout is closed.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

/// `eprintln!` that ignores a closed stderr.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::write_stderr(format_args!($($arg)*)) };
}

/// A UTF-8 byte order mark (Windows editors write one) is not part of a
/// JSON document: the bytes after it.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Whether `-` (standard input, which can be read only once) is named at
/// most once among `args`.
pub fn stdin_once<'a>(args: impl IntoIterator<Item = &'a str>) -> bool {
    args.into_iter().filter(|a| *a == "-").count() <= 1
}

/// Why the files named on a command line could not be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// `-` given more than once.
    StdinTwice,
    /// A folder without a `*.json` file.
    NoJsonIn(String),
    /// A folder that could not be read.
    Unreadable { path: String, reason: String },
}

/// The files named by `inputs`: files as given, the `*.json` files of
/// folders in name order, `-` (standard input) at most once.
pub fn input_files(inputs: &[String]) -> Result<Vec<String>, InputError> {
    if !stdin_once(inputs.iter().map(String::as_str)) {
        return Err(InputError::StdinTwice);
    }
    let mut files = Vec::new();
    for input in inputs {
        let path = std::path::Path::new(input);
        if input == "-" || !path.is_dir() {
            files.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| InputError::Unreadable {
            path: input.clone(),
            reason: e.to_string(),
        })?;
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if found.is_empty() {
            return Err(InputError::NoJsonIn(input.clone()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Most bytes a tool reads from one input file (or standard input): more
/// than any submission, receipt or body (the largest, a receipt with all
/// its evidence, is under 2 MiB), so that `/dev/zero` or a wrong file is
/// refused instead of filling memory.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// The bytes of a file, or of standard input for `-`, refusing more than
/// [`MAX_INPUT_BYTES`].
pub fn read_input(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let reader: Box<dyn std::io::Read> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    reader.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "more than {} MiB: not an input of this tool",
                MAX_INPUT_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}
