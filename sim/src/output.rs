//! Where the commands' outputs go: files written whole, and stdout that tolerates a
//! closed pipe.

/// Writes `text` to `path`; the error names the flag (`what`) and the path.
pub(crate) fn write_file(path: &std::path::Path, what: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// Prints to stdout, ignoring a closed pipe (files were written before).
pub(crate) fn print_out(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}
