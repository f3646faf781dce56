//! Where answers go: JSON for scripts or tables for people, on a standard output that may
//! be a pipe closed early (`splashsync queue stats | head`).

use std::io::{IsTerminal, Write};

/// How answers print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// The admin API's JSON answer, pretty-printed (stable for scripts).
    Json,
    /// Readable tables with totals.
    Table,
}

impl Format {
    /// The format asked for, else tables on a terminal and JSON anywhere else (a pipe, a
    /// file, a script's capture), so that scripts written for the JSON-only CLI still work.
    pub(crate) fn resolve(asked: Option<Self>) -> Self {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Self::Table
            } else {
                Self::Json
            }
        })
    }
}

/// Writes `text` and a newline to standard output, without the panic `println!` gives on
/// a closed pipe: the caller tells a closed pipe ([`closed_pipe`]) from other errors.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Whether a write failed because the reader went away (`| head`): not an error.
pub(crate) fn closed_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// A line on standard error, `splashsync: ` first; never panics (a closed standard error
/// loses the line).
pub(crate) fn warn(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "splashsync: {text}");
}
