//! Where the commands' inputs come from and their outputs go: input files read with a
//! size limit, files written whole, and stdout that tolerates a closed pipe.

use std::io::Read;

/// The largest input file read (a scenario, a `seeds/` case, a `--json` summary given to
/// `merge`): 16 MiB, over 300 times the largest case in `seeds/`. A bigger file (or
/// `/dev/zero`) is refused before parsing, so a wrong path cannot exhaust memory, and
/// no scenario reaches the run or `--html` with millions of faults.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Reads a UTF-8 input file of at most [`MAX_INPUT_BYTES`]; the error names the path.
pub fn read_input(path: &std::path::Path) -> Result<String, String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "{}: larger than the {} MiB limit for an input file",
            path.display(),
            MAX_INPUT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))
}

/// Writes `text` to `path` whole or not at all: a regular file (or a new one) is
/// written to a temporary file beside it and renamed over it, so a process killed
/// mid-write never leaves half a file; anything else (a device, a pipe) is written
/// directly. The error names the flag (`what`) and the path.
pub(crate) fn write_file(path: &std::path::Path, what: &str, text: &str) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{what} {}: {e}", path.display());
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let name = path.file_name().filter(|_| !special);
    let Some(name) = name else {
        return std::fs::write(path, text).map_err(err);
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(err)
}

/// Prints to stdout, ignoring a closed pipe (files were written before).
pub(crate) fn print_out(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

/// `print_out` with `println!`'s arguments: a closed pipe (`| head`) ends the output
/// quietly instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::output::print_out(&(format!($($t)*) + "\n")) };
}

/// Stdout for the replay's trace (`tracing`): write errors (a closed pipe) are
/// swallowed, so `replay | head` ends without a line of complaint per event.
pub(crate) struct QuietStdout;

impl std::io::Write for QuietStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stdout().lock().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stdout().lock().flush();
        Ok(())
    }
}

/// The path an output names, for comparing two outputs: resolved (links, `..`) as
/// far as it exists, the rest joined on as written (a folder not made yet).
fn same_path_key(p: &std::path::Path) -> std::path::PathBuf {
    let mut rest = Vec::new();
    let mut at = p;
    loop {
        let base = if at.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            at
        };
        if let Ok(c) = std::fs::canonicalize(base) {
            return rest.iter().rev().fold(c, |acc, n| acc.join(n));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Refuses, before anything runs, two outputs naming one path (`--json` and `--html`
/// would overwrite each other; `--json` inside `--save-failures` would be taken for
/// a case) and an output naming an input (it would be replaced while still needed).
/// Each entry is (flag, path); `inputs` are files the command reads.
pub fn check_distinct(
    outputs: &[(&str, &std::path::Path)],
    inputs: &[&std::path::Path],
) -> Result<(), String> {
    let keys: Vec<_> = outputs.iter().map(|(_, p)| same_path_key(p)).collect();
    for (i, (flag, p)) in outputs.iter().enumerate() {
        if let Some(j) = keys[..i].iter().position(|k| *k == keys[i]) {
            return Err(format!(
                "{flag} {} names the same path as {} {}: refused",
                p.display(),
                outputs[j].0,
                outputs[j].1.display()
            ));
        }
        // `regress --dir` reads every file of a cases folder as a case: an output
        // written there would be reported as an unreadable case, or replayed as one.
        if let Some(j) = outputs.iter().position(|(f, _)| *f == "--save-failures") {
            if i != j && keys[i] != keys[j] && keys[i].starts_with(&keys[j]) {
                return Err(format!(
                    "{flag} {} lies inside the --save-failures folder {}, where every file is taken for a saved case: refused",
                    p.display(),
                    outputs[j].1.display()
                ));
            }
        }
        if let Some(inp) = inputs.iter().find(|q| same_path_key(q) == keys[i]) {
            return Err(format!(
                "{flag} {}: is also an input ({}): refused",
                p.display(),
                inp.display()
            ));
        }
    }
    Ok(())
}

/// The exit code of a command whose end-of-run writes failed: each error is printed
/// (after the summary, which is already out); a violation keeps exit 1, any other
/// outcome becomes 2, since a lost output must not read as success.
pub fn finish(code: i32, errors: &[String]) -> i32 {
    for e in errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() || code == 1 {
        code
    } else {
        2
    }
}
