//! Writing to stdout without panicking when it is closed (`rampart rules list | head -1`): every
//! verb prints through [`outln!`]/[`out!`], which return the write error, and `main` treats a
//! broken pipe as a clean exit.

use std::io::Write;

/// Writes formatted text to stdout; the error of a closed pipe comes back instead of a panic.
pub fn write(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    std::io::stdout().lock().write_fmt(args)
}

/// Whether `error` (or anything in its chain) is a write to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// `println!` that returns (with `?`) the write error from the enclosing function.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `print!` that returns (with `?`) the write error from the enclosing function.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))?
    };
}
