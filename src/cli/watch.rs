//! `warden test --watch`: run the tests, then again whenever a rules, `.snap`
//! or store file under the paths changes, until interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::output::Out;
use super::test::{self, Run};

/// How long to wait for more changes after one, so a save that writes several files reruns once.
const SETTLE: Duration = Duration::from_millis(200);

/// Whether a change to `path` should run the tests again: rules, snapshots and stores,
/// not the `.snap.new` files and temporary files the run itself writes.
pub fn relevant(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if name.starts_with('.') || name.ends_with(".tmp") {
        return false;
    }
    matches!(path.extension().and_then(|e| e.to_str()), Some("rules" | "snap" | "json" | "db" | "sqlite" | "sqlite3"))
}

/// Runs `warden test --watch`.
pub fn run(run: &Run<'_>, out: &Out) -> ExitCode {
    if run.paths.iter().any(|p| p.as_os_str() == "-") {
        return out.usage("`--watch` cannot watch standard input; give files or directories", None);
    }
    let (tx, rx) = mpsc::channel();
    let mut watcher = match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let _ = tx.send(event.paths);
        }
    }) {
        Ok(w) => w,
        Err(e) => return out.usage(format!("cannot watch the files: {e}"), None),
    };
    for path in run.paths {
        // A file is watched through its directory, so that editors that replace it are seen.
        let (target, mode) = if path.is_dir() {
            (path.clone(), RecursiveMode::Recursive)
        } else {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).map_or(PathBuf::from("."), Path::to_path_buf);
            (dir, RecursiveMode::NonRecursive)
        };
        if let Err(e) = watcher.watch(&target, mode) {
            return out.usage(format!("cannot watch `{}`: {e}", target.display()), None);
        }
    }
    loop {
        test::run(run, out);
        // What the run itself wrote (`.snap` files with `--accept`) is not a change to rerun for.
        std::thread::sleep(SETTLE);
        while rx.try_recv().is_ok() {}
        if !out.quiet {
            eprintln!("watching for changes (Ctrl-C stops)");
        }
        let changed = loop {
            match rx.recv() {
                Ok(paths) => {
                    if let Some(p) = paths.into_iter().find(|p| relevant(p)) {
                        break p;
                    }
                }
                Err(_) => return ExitCode::SUCCESS,
            }
        };
        std::thread::sleep(SETTLE);
        while rx.try_recv().is_ok() {}
        if !out.quiet {
            eprintln!("--- {} changed; running again", changed.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relevant;
    use std::path::Path;

    #[test]
    fn only_rules_snapshots_and_stores_count() {
        for p in ["a/shop.rules", "shop.rules.snap", "shop.store.json", "x.db"] {
            assert!(relevant(Path::new(p)), "{p}");
        }
        for p in ["shop.rules.snap.new", ".shop.rules.snap.123.tmp", "notes.txt", "a/.x.rules.fmt.tmp"] {
            assert!(!relevant(Path::new(p)), "{p}");
        }
    }
}
