//! Store files under several processes (docs/cli.md, the store): concurrent `eval --save` runs
//! on one JSON store lose nothing, a REPL refuses to `:save` over a store that another
//! process changed since it read it, a save removes the temporary files of crashed saves,
//! and a run without `--save` reads a store it may not write.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROGRAM: &str = "module M {\n  entity Item {\n    N: Integer\n  }\n}\n";

fn warden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-concurrency-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("m.rules"), PROGRAM).unwrap();
    dir
}

fn empty_json(dir: &Path) -> PathBuf {
    let store = dir.join("store.json");
    std::fs::write(&store, "{ \"format\": \"warden-store/1\", \"objects\": [] }\n").unwrap();
    store
}

/// The N of every Item in a store, sorted, read through `warden eval` (so the file must load).
fn items(dir: &Path, store: &Path) -> Vec<i64> {
    let out = warden()
        .arg("eval")
        .arg(dir.join("m.rules"))
        .arg("--store")
        .arg(store)
        .args(["--format", "json", "-e", "retrieve M.Item"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ns: Vec<i64> = doc["results"][0].as_array().unwrap().iter().map(|o| o["N"].as_i64().unwrap()).collect();
    ns.sort_unstable();
    ns
}

fn add_item(dir: &Path, store: &Path, n: i64) -> std::process::Child {
    warden()
        .arg("eval")
        .arg(dir.join("m.rules"))
        .arg("--store")
        .arg(store)
        .arg("--save")
        .arg("-e")
        .arg(format!("let $x = create M.Item {{ N = {n} }}  commit $x"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_json_writers_lose_nothing() {
    for kind in ["store.json", "store.db"] {
        let dir = scratch(&format!("writers-{kind}"));
        let store = if kind == "store.json" {
            empty_json(&dir)
        } else {
            let json = empty_json(&dir);
            let db = dir.join(kind);
            let out = warden().args(["store", "import"]).arg(dir.join("m.rules")).arg(&json).arg(&db).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            db
        };
        let mut expected = Vec::new();
        for round in 0..4 {
            let children: Vec<_> = (0..6).map(|k| add_item(&dir, &store, round * 10 + k)).collect();
            for (k, child) in children.into_iter().enumerate() {
                let out = child.wait_with_output().unwrap();
                assert_eq!(out.status.code(), Some(0), "writer {k}: {}", String::from_utf8_lossy(&out.stderr));
            }
            expected.extend((0..6).map(|k| round * 10 + k));
        }
        expected.sort_unstable();
        assert_eq!(items(&dir, &store), expected, "{kind}: every writer's object is there");
    }
}

/// A scripted REPL: statements go in one line at a time, and each `count(...)` line's answer
/// comes back, so the test knows where the REPL is.
struct Repl {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Repl {
    fn open(dir: &Path, store: &Path) -> Repl {
        let mut child = warden()
            .arg("repl")
            .arg(dir.join("m.rules"))
            .arg("--store")
            .arg(store)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Repl { child, out }
    }

    /// Sends a line and returns the next line of output.
    fn ask(&mut self, line: &str) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        self.out.read_line(&mut answer).unwrap();
        answer
    }

    fn quit(mut self) -> String {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn a_repl_save_over_a_store_changed_meanwhile_is_refused() {
    for kind in ["store.json", "store.db"] {
        let dir = scratch(&format!("repl-{kind}"));
        let json = empty_json(&dir);
        let store = if kind == "store.json" {
            json
        } else {
            let db = dir.join(kind);
            let out = warden().args(["store", "import"]).arg(dir.join("m.rules")).arg(&json).arg(&db).output().unwrap();
            assert_eq!(out.status.code(), Some(0));
            db
        };
        let mut repl = Repl::open(&dir, &store);
        assert_eq!(repl.ask("let $x = create M.Item { N = 1 }  commit $x  count(retrieve M.Item)").trim(), "1");
        // Another process commits meanwhile.
        let other = add_item(&dir, &store, 2).wait_with_output().unwrap();
        assert_eq!(other.status.code(), Some(0), "{}", String::from_utf8_lossy(&other.stderr));
        // The REPL's save is refused, naming the file; the other process's write stays.
        let answer = repl.ask(":save");
        let stderr = repl.quit();
        let shown = format!("{answer}{stderr}");
        assert!(
            shown.contains(&format!(
                "`{}` was changed by another process since this session read it; nothing was saved",
                store.display()
            )),
            "{kind}: {shown}"
        );
        assert_eq!(items(&dir, &store), [2], "{kind}");
        // A REPL that saves over what it read succeeds, and may save again.
        let mut repl = Repl::open(&dir, &store);
        assert_eq!(repl.ask("let $x = create M.Item { N = 3 }  commit $x  count(retrieve M.Item)").trim(), "2");
        assert_eq!(repl.ask(":save").trim(), format!("saved {}", store.display()));
        assert_eq!(repl.ask("let $y = create M.Item { N = 4 }  commit $y  count(retrieve M.Item)").trim(), "3");
        assert_eq!(repl.ask(":save").trim(), format!("saved {}", store.display()));
        repl.quit();
        assert_eq!(items(&dir, &store), [2, 3, 4], "{kind}");
    }
}

#[test]
fn a_save_removes_the_temporary_files_of_crashed_saves() {
    let dir = scratch("temporaries");
    let store = empty_json(&dir);
    // What a save killed before its rename leaves behind.
    let stale = dir.join(".store.json.4242.tmp");
    std::fs::write(&stale, "{ half a store").unwrap();
    let other = dir.join(".other.json.4242.tmp");
    std::fs::write(&other, "another store's").unwrap();
    let out = add_item(&dir, &store, 1).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stale.exists(), "the crashed save's temporary file is gone");
    assert!(other.exists(), "another store's file is left alone");
    assert_eq!(items(&dir, &store), [1]);
}

#[cfg(unix)]
#[test]
fn a_run_without_save_reads_a_store_it_may_not_write() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // As root every file is writable: read as `nobody` then, who may not write these.
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    for kind in ["store.json", "store.db"] {
        let dir = scratch(&format!("read-only-{kind}"));
        let json = empty_json(&dir);
        let store = dir.join(kind);
        let mut import = warden();
        import.arg("store").arg("import").arg(dir.join("m.rules")).arg(&json).arg(dir.join("tmp.db"));
        assert_eq!(import.output().unwrap().status.code(), Some(0));
        if kind == "store.db" {
            std::fs::rename(dir.join("tmp.db"), &store).unwrap();
        }
        let out = add_item(&dir, &store, 7).wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let before = std::fs::read(&store).unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let run = |save: bool| {
            let mut cmd = warden();
            cmd.arg("eval").arg(dir.join("m.rules")).arg("--store").arg(&store);
            if save {
                cmd.arg("--save");
            }
            cmd.args(["-e", "let $x = create M.Item { N = 8 }  commit $x  count(retrieve M.Item)"]);
            if root {
                cmd.uid(65534).gid(65534);
            }
            cmd.output().unwrap()
        };
        let read = run(false);
        assert_eq!(read.status.code(), Some(0), "{kind}: {}", String::from_utf8_lossy(&read.stderr));
        assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "2", "{kind}: the run sees its own change");
        let write = run(true);
        assert_eq!(write.status.code(), Some(2), "{kind}: a save cannot happen, an I/O problem");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(std::fs::read(&store).unwrap(), before, "{kind}: the file is as it was");
    }
}
