//! The SQLite store as separate `warden` processes use it: a process killed in
//! the middle of a write leaves the database as it was before the run or with
//! the whole run in it, concurrent writers all land, readers see only committed
//! data, a failed run changes nothing, and a program whose tables differ from the
//! file's is refused.
//!
//! The program: a run adds batches of one `Counter.Batch` and 50 `Counter.Item`s
//! pointing at it (51 objects per batch, all of a run in one transaction), so
//! "nothing half-written" is checkable: every batch has exactly 50 items.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rusqlite::Connection;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Items per batch.
const ITEMS: i64 = 50;

/// The program's entities; `item` is the body of `Counter.Item`, `extra` more declarations.
fn entities(item: &str, extra: &str) -> String {
    format!(
        "module Counter {{\n  entity Batch {{ N: Integer }}\n  entity Item {{ {item} }}\n  \
         association Item_Batch: Item -> Batch\n{extra}\n}}\n"
    )
}

/// The full program: the entities and the microflows that write them.
fn program() -> String {
    entities(
        "N: Integer",
        r#"
  microflow Items(B: Batch, K: Integer, Left: Integer) {
    if $Left > 0 {
      let $i = create Item { N = $K, Item_Batch = $B }
      commit $i
      call Items(B = $B, K = $K, Left = $Left - 1)
    }
  }

  // One batch: the Batch with N = K and 50 Items pointing at it, each committed.
  microflow AddBatch(K: Integer) {
    let $b = create Batch { N = $K }
    commit $b
    call Items(B = $b, K = $K, Left = 50)
  }

  // Writes a batch, then fails: the microflow, and the run, roll back.
  microflow Fail(K: Integer) {
    call AddBatch(K = $K)
    error 'boom'
  }
"#,
    )
}

/// A scratch directory under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("warden-sqlite-process-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file and returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("writes a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn warden(args: &[&str]) -> Command {
    let mut cmd = Command::new(WARDEN);
    cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

fn output(args: &[&str]) -> Output {
    warden(args).output().expect("runs warden")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Describes a finished run for assertion messages.
fn describe(args: &[&str], out: &Output) -> String {
    format!("warden {args:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}", out.status, text(&out.stdout), text(&out.stderr))
}

/// Makes a new, empty SQLite store for the rules through `warden store import`.
fn new_store(dir: &Scratch, rules: &Path, name: &str) -> PathBuf {
    let json = dir.write("empty.store.json", r#"{"format": "warden-store/1", "objects": []}"#);
    let db = dir.path(name);
    let args = ["store", "import", s(rules), s(&json), s(&db)];
    let out = output(&args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    db
}

/// The statements of a run that adds one batch per key.
fn add_batches(keys: &[i64]) -> String {
    keys.iter().map(|k| format!("call Counter.AddBatch(K = {k})\n")).collect()
}

fn save_args<'a>(rules: &'a Path, db: &'a Path, statements: &'a str) -> Vec<&'a str> {
    vec!["eval", s(rules), "--store", s(db), "--save", "-e", statements]
}

/// Runs statements with `--save`; the run must succeed.
fn save(rules: &Path, db: &Path, statements: &str) {
    let args = save_args(rules, db, statements);
    let out = output(&args);
    assert!(out.status.success(), "{}", describe(&args, &out));
}

/// Runs statements without `--save` and returns each printed line; the run must succeed.
fn read_lines(rules: &Path, db: &Path, statements: &str) -> Vec<String> {
    let args = ["eval", s(rules), "--store", s(db), "-e", statements];
    let out = output(&args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// How many batches and items `warden eval` (without `--save`) finds.
fn counts(rules: &Path, db: &Path) -> (i64, i64) {
    let lines = read_lines(rules, db, "count(retrieve Counter.Batch)\ncount(retrieve Counter.Item)");
    let number = |l: &String| l.trim().parse::<i64>().unwrap_or_else(|_| panic!("a count, got {lines:?}"));
    match lines.as_slice() {
        [b, i] => (number(b), number(i)),
        _ => panic!("two counts, got {lines:?}"),
    }
}

/// Opens the database directly (not through warden).
fn sql(db: &Path) -> Connection {
    let conn = Connection::open(db).expect("SQLite opens the store");
    conn.busy_timeout(Duration::from_secs(20)).unwrap();
    conn
}

fn query_i64(conn: &Connection, query: &str) -> i64 {
    conn.query_row(query, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Checks the database with SQLite itself and returns the batches' keys (their `N`), sorted:
/// it passes `PRAGMA integrity_check`, every batch has exactly 50 items with its key, no item
/// is outside a batch, keys are unique, and `next_id` is past every id.
fn check_store(db: &Path) -> Vec<i64> {
    let conn = sql(db);
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"], "integrity check of {}", db.display());
    let uneven: Vec<(i64, i64, i64)> = conn
        .prepare(
            r#"SELECT b.id, b."N", count(i.id) FROM "Counter.Batch" b
               LEFT JOIN "Counter.Item" i ON i."Counter.Item_Batch" = b.id
               GROUP BY b.id HAVING count(i.id) != 50 OR count(i.id) != sum(i."N" = b."N")"#,
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(uneven.is_empty(), "batches (id, N, items) without exactly their 50 items: {uneven:?}");
    let orphans = query_i64(
        &conn,
        r#"SELECT count(*) FROM "Counter.Item" i
           WHERE i."Counter.Item_Batch" IS NULL
              OR NOT EXISTS (SELECT 1 FROM "Counter.Batch" b WHERE b.id = i."Counter.Item_Batch")"#,
    );
    assert_eq!(orphans, 0, "items outside any batch");
    let keys: Vec<i64> = conn
        .prepare(r#"SELECT "N" FROM "Counter.Batch" ORDER BY "N""#)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let distinct: BTreeSet<i64> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "a batch key twice: {keys:?}");
    let items = query_i64(&conn, r#"SELECT count(*) FROM "Counter.Item""#);
    assert_eq!(items, ITEMS * keys.len() as i64);
    let max_id = query_i64(
        &conn,
        r#"SELECT max(m) FROM (SELECT coalesce(max(id), 0) AS m FROM "Counter.Batch"
                               UNION ALL SELECT coalesce(max(id), 0) FROM "Counter.Item")"#,
    );
    let next: i64 = conn
        .query_row("SELECT value FROM warden_meta WHERE key = 'next_id'", [], |r| r.get::<_, String>(0))
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > max_id, "next_id {next} is not past the highest id {max_id}");
    keys
}

/// Every row of every table (and the meta table), as text, for comparing states.
fn dump(db: &Path) -> String {
    let conn = sql(db);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("== {table}\n"));
        let mut stmt =
            conn.prepare(&format!("SELECT * FROM \"{}\" ORDER BY 1, 2", table.replace('"', "\"\""))).unwrap();
        let width = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..width).map(|i| format!("{:?}", row.get_ref(i).unwrap())).collect();
            out.push_str(&cells.join(" | "));
            out.push('\n');
        }
    }
    out
}

/// `warden store export` of the store, as bytes.
fn export(dir: &Scratch, rules: &Path, db: &Path, name: &str) -> Vec<u8> {
    let json = dir.path(name);
    let args = ["store", "export", s(rules), s(db), s(&json)];
    let out = output(&args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    std::fs::read(&json).expect("the export")
}

/// Whether some connection holds the database's write lock (asked without waiting).
fn write_locked(probe: &Connection) -> bool {
    match probe.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            probe.execute_batch("ROLLBACK").unwrap();
            false
        }
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => true,
        Err(e) => panic!("probing the write lock: {e}"),
    }
}

/// Waits for a child, failing the test if it outlives the deadline (it is killed then).
fn wait_with_deadline(child: &mut Child, deadline: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still runs after {deadline:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What became of a run that was to be killed.
#[derive(Debug)]
enum Fate {
    /// Killed some time after it took the write lock: inside its transaction, while it
    /// commits, or (with a long delay) after.
    KilledAfterLock,
    /// Killed after its first batch could be read by another connection: after its commit.
    KilledAfterCommit,
    /// It finished before the kill.
    Finished(ExitStatus),
}

/// When a run is killed.
#[derive(Clone, Copy, Debug)]
enum When {
    /// This many milliseconds after its write lock is seen.
    Locked(u64),
    /// This share of the measured lock hold of a run of its size after the lock is seen:
    /// near 1, the kill lands around the commit.
    Share(f64),
    /// As soon as its first batch can be read elsewhere (it has committed and not exited).
    Committed,
    /// Never: the run finishes, and its lock hold is measured.
    Never,
}

#[cfg(unix)]
fn killed_by_signal(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_some()
}

#[cfg(not(unix))]
fn killed_by_signal(status: &ExitStatus) -> bool {
    !status.success()
}

/// Runs statements with `--save` in a child and kills it as `when` says, watching its write
/// lock from another connection. Returns its fate and how long it was seen holding the lock.
fn run_and_kill(
    rules: &Path,
    db: &Path,
    statements: &str,
    first_key: i64,
    when: When,
    hold: Duration,
) -> (Fate, Duration) {
    let mut child = warden(&save_args(rules, db, statements))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns warden");
    let probe = Connection::open(db).unwrap();
    probe.busy_timeout(Duration::ZERO).unwrap();
    // Closing the probe must not checkpoint (and so recover) the log a killed run left:
    // warden is the first to open the database after a kill.
    probe.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).unwrap();
    let start = Instant::now();
    let mut locked_at: Option<Instant> = None;
    let mut released_at: Option<Instant> = None;
    let kill = |child: &mut Child, fate: Fate| -> Fate {
        child.kill().expect("kills the writer");
        let status = child.wait().unwrap();
        if killed_by_signal(&status) {
            fate
        } else {
            Fate::Finished(status)
        }
    };
    let fate = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Fate::Finished(status);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a writer neither finished nor was killed in 60 s: it hangs");
        }
        let locked = write_locked(&probe);
        if locked && locked_at.is_none() {
            locked_at = Some(Instant::now());
        }
        if !locked && locked_at.is_some() && released_at.is_none() {
            released_at = Some(Instant::now());
        }
        match when {
            When::Locked(_) | When::Share(_) if locked_at.is_some() => {
                let delay = match when {
                    When::Locked(ms) => Duration::from_millis(ms),
                    When::Share(f) => hold.mul_f64(f),
                    _ => unreachable!(),
                };
                let since = locked_at.unwrap();
                let mut exited = None;
                while since.elapsed() < delay {
                    if let Some(status) = child.try_wait().unwrap() {
                        exited = Some(status);
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(200).min(delay.saturating_sub(since.elapsed())));
                }
                match exited {
                    Some(status) => break Fate::Finished(status),
                    None => break kill(&mut child, Fate::KilledAfterLock),
                }
            }
            When::Committed => {
                let visible =
                    query_i64(&probe, &format!(r#"SELECT count(*) FROM "Counter.Batch" WHERE "N" = {first_key}"#));
                if visible > 0 {
                    break kill(&mut child, Fate::KilledAfterCommit);
                }
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_micros(300));
    };
    let held = match (locked_at, released_at) {
        (Some(a), Some(b)) => b - a,
        (Some(a), None) => a.elapsed(),
        _ => Duration::ZERO,
    };
    (fate, held)
}

/// Kill rounds: batches in the killed run (51 objects each), and when it is killed.
const ROUNDS: [(usize, When); 14] = [
    (1, When::Locked(0)),
    (1, When::Locked(3)),
    (1, When::Share(0.7)),
    (1, When::Share(0.95)),
    (1, When::Committed),
    (40, When::Locked(0)),
    (40, When::Locked(30)),
    (40, When::Share(0.5)),
    (40, When::Share(0.85)),
    (40, When::Share(0.95)),
    (40, When::Share(1.0)),
    (40, When::Share(1.05)),
    (40, When::Committed),
    (40, When::Locked(5000)),
];

#[test]
fn a_killed_writer_leaves_whole_runs_or_nothing() {
    let dir = Scratch::new("crash");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "crash.db");
    let mut next_key = 1i64;
    let mut keys = |n: usize| -> Vec<i64> {
        let k: Vec<i64> = (next_key..next_key + n as i64).collect();
        next_key += n as i64;
        k
    };
    // Keys of runs that succeeded: they must be there.
    let mut committed: BTreeSet<i64> = BTreeSet::new();
    // Keys of killed runs, per run: each run's keys are all there or none is.
    let mut killed: Vec<Vec<i64>> = Vec::new();
    let mut report = Vec::new();
    // How long runs of 1 and of 40 batches hold the write lock, measured on runs that finish.
    let mut holds = std::collections::HashMap::new();
    for batches in [1, 40] {
        let run = keys(batches);
        let (fate, held) = run_and_kill(&rules, &db, &add_batches(&run), run[0], When::Never, Duration::ZERO);
        assert!(matches!(&fate, Fate::Finished(s) if s.success()), "a run of {batches} batches: {fate:?}");
        committed.extend(&run);
        holds.insert(batches, held);
        report.push(format!("{batches} batch(es) held the write lock {held:?}"));
    }
    let (mut rolled_back, mut after_lock, mut after_commit) = (0, 0, 0);
    let mut plan = ROUNDS.to_vec();
    let mut round = 0;
    while round < plan.len() {
        let (batches, when) = plan[round];
        // A run that completes (after the previous kill: the lock and the log must be usable).
        let done = keys(1);
        save(&rules, &db, &add_batches(&done));
        committed.extend(&done);

        let victim = keys(batches);
        let (fate, _) = run_and_kill(&rules, &db, &add_batches(&victim), victim[0], when, holds[&batches]);
        match &fate {
            Fate::Finished(status) => {
                assert!(status.success(), "round {round}: a run that was not killed failed: {status}");
                committed.extend(&victim);
            }
            Fate::KilledAfterLock => {
                after_lock += 1;
                killed.push(victim.clone());
            }
            Fate::KilledAfterCommit => {
                // Committed is committed: the kill may not take it back.
                after_commit += 1;
                committed.extend(&victim);
            }
        }

        // warden opens the store as the kill left it; then SQLite's integrity check passes and
        // the store holds whole batches only, as many as warden counted.
        let (b, i) = counts(&rules, &db);
        let found: BTreeSet<i64> = check_store(&db).into_iter().collect();
        assert_eq!((b, i), (found.len() as i64, ITEMS * found.len() as i64), "round {round}: warden's counts");
        let missing: Vec<&i64> = committed.difference(&found).collect();
        assert!(missing.is_empty(), "round {round}: committed batches are gone ({fate:?}): {missing:?}");
        let mut expected = committed.clone();
        for run in &killed {
            let present = run.iter().filter(|k| found.contains(k)).count();
            assert!(
                present == 0 || present == run.len(),
                "round {round}: a killed run left {present} of its {} batches: {run:?} ({fate:?})",
                run.len()
            );
            if present == run.len() {
                expected.extend(run);
            }
        }
        assert_eq!(found, expected, "round {round}: batches that no run wrote");
        if matches!(fate, Fate::KilledAfterLock) && !found.contains(&victim[0]) {
            rolled_back += 1;
        }
        let outcome = if found.contains(&victim[0]) { "in the store" } else { "not in the store" };
        report.push(format!("round {round}: {batches} batch(es), kill {when:?}: {fate:?}, {outcome}"));
        round += 1;
        // Timing on a busy machine may spoil a planned kill: retry the kinds that matter, a few times.
        if round == plan.len() && plan.len() < ROUNDS.len() + 8 {
            if after_commit == 0 {
                plan.push((40, When::Committed));
            }
            if rolled_back < 3 || after_lock < 5 {
                plan.push((40, When::Locked(0)));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    // The store still takes writes after the last kill.
    let last = keys(1);
    save(&rules, &db, &add_batches(&last));
    committed.extend(&last);
    let found: BTreeSet<i64> = check_store(&db).into_iter().collect();
    assert!(committed.is_subset(&found));
    let report = report.join("\n");
    assert!(after_lock >= 5, "too few kills after the write lock was taken:\n{report}");
    assert!(rolled_back >= 3, "too few kills landed inside a transaction:\n{report}");
    assert!(after_commit >= 1, "no kill landed between a commit and the process's end:\n{report}");
}

#[test]
fn concurrent_writers_all_land() {
    const WRITERS: usize = 3;
    const RUNS: usize = 5;
    const PER_RUN: usize = 2;
    let dir = Scratch::new("concurrent");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "shared.db");
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writing = Arc::new(std::sync::atomic::AtomicUsize::new(WRITERS));
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let (rules, db, start, writing) = (rules.clone(), db.clone(), start.clone(), writing.clone());
        handles.push(std::thread::spawn(move || {
            start.wait();
            let mut failures = Vec::new();
            for r in 0..RUNS {
                let keys: Vec<i64> = (0..PER_RUN).map(|b| (1000 * (w + 1) + 10 * r + b) as i64).collect();
                let statements = add_batches(&keys);
                let args = save_args(&rules, &db, &statements);
                let mut child =
                    warden(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawns warden");
                let status = wait_with_deadline(&mut child, Duration::from_secs(120), "a concurrent writer");
                if !status.success() {
                    let mut err = String::new();
                    use std::io::Read;
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    failures.push(format!("writer {w} run {r}: {status}\n{err}"));
                }
            }
            writing.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            failures
        }));
    }
    // A reader runs while they write: each run it sees is whole (items = 50 per batch), and
    // batches come in whole runs.
    let reader = {
        let (rules, db, start, writing) = (rules.clone(), db.clone(), start.clone(), writing.clone());
        std::thread::spawn(move || {
            start.wait();
            let mut seen = Vec::new();
            let mut problems = Vec::new();
            while writing.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                let args = [
                    "eval",
                    s(&rules),
                    "--store",
                    s(&db),
                    "-e",
                    "count(retrieve Counter.Batch) count(retrieve Counter.Item)",
                ];
                let out = output(&args);
                if !out.status.success() {
                    problems.push(describe(&args, &out));
                    continue;
                }
                let lines: Vec<i64> = text(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
                seen.push(lines.clone());
                if lines.len() != 2 || lines[1] != ITEMS * lines[0] || lines[0] % PER_RUN as i64 != 0 {
                    problems.push(format!("a reader saw (batches, items) = {lines:?}"));
                }
            }
            (seen, problems)
        })
    };
    let failures: Vec<String> = handles.into_iter().flat_map(|h| h.join().expect("a writer thread")).collect();
    let (seen, read_problems) = reader.join().expect("the reader thread");
    let keys = check_store(&db);
    let expected: Vec<i64> = (0..WRITERS)
        .flat_map(|w| (0..RUNS).flat_map(move |r| (0..PER_RUN).map(move |b| (1000 * (w + 1) + 10 * r + b) as i64)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Every problem at once: lost runs and failed writers or readers tell apart different faults.
    let mut problems = Vec::new();
    if !failures.is_empty() {
        problems.push(format!("concurrent writers failed:\n{}", failures.join("\n")));
    }
    if keys != expected {
        let lost: Vec<&i64> = expected.iter().filter(|k| !keys.contains(k)).collect();
        problems.push(format!(
            "every run of every writer must be in the store: {} batches expected, {} found; lost: {lost:?}",
            expected.len(),
            keys.len()
        ));
    }
    if !read_problems.is_empty() {
        problems.push(format!("readers during the writes:\n{}\n(seen: {seen:?})", read_problems.join("\n")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert_eq!(counts(&rules, &db), (expected.len() as i64, ITEMS * expected.len() as i64));
}

#[test]
fn a_writer_that_waits_for_the_lock_builds_on_what_was_committed_meanwhile() {
    let dir = Scratch::new("waiting-writer");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "wait.db");
    save(&rules, &db, &add_batches(&[1]));
    // Another connection writes a batch by hand and holds its transaction open.
    let conn = sql(&db);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    insert_batch(&conn, 2);
    // A warden writer starts meanwhile: it must wait for the lock, not fail or overwrite.
    let statements = add_batches(&[3]);
    let args = save_args(&rules, &db, &statements);
    let mut child = warden(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawns warden");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the writer did not wait for the lock");
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    let status = wait_with_deadline(&mut child, Duration::from_secs(60), "the waiting writer");
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "the waiting writer failed: {status}\n{}", text(&out.stderr));
    assert_eq!(
        check_store(&db),
        [1, 2, 3],
        "batch 2, committed while the writer waited for the lock, must survive the writer's run"
    );
    assert_eq!(counts(&rules, &db), (3, 3 * ITEMS));
}

/// Inserts a whole batch (key `k`) through SQL inside the connection's open transaction,
/// taking ids from `warden_meta` as warden does.
fn insert_batch(conn: &Connection, k: i64) {
    let next: i64 = conn
        .query_row("SELECT value FROM warden_meta WHERE key = 'next_id'", [], |r| r.get::<_, String>(0))
        .unwrap()
        .parse()
        .unwrap();
    conn.execute(r#"INSERT INTO "Counter.Batch" (id, "N") VALUES (?1, ?2)"#, [next, k]).unwrap();
    for i in 1..=ITEMS {
        conn.execute(
            r#"INSERT INTO "Counter.Item" (id, "N", "Counter.Item_Batch") VALUES (?1, ?2, ?3)"#,
            [next + i, k, next],
        )
        .unwrap();
    }
    conn.execute("UPDATE warden_meta SET value = ?1 WHERE key = 'next_id'", [(next + ITEMS + 1).to_string()]).unwrap();
}

#[test]
fn readers_see_only_committed_data() {
    let dir = Scratch::new("readers");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "read.db");
    save(&rules, &db, &add_batches(&[1, 2]));
    assert_eq!(counts(&rules, &db), (2, 2 * ITEMS));

    let conn = sql(&db);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for k in [101, 102, 103] {
        insert_batch(&conn, k);
    }
    // The writer's transaction is open: readers see the data from before it, at once.
    let started = Instant::now();
    assert_eq!(counts(&rules, &db), (2, 2 * ITEMS), "a reader saw uncommitted rows");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a reader waited {:?} for the writer (readers must not block on a write lock)",
        started.elapsed()
    );
    // A retrieve answered by SQL (a constraint) sees the same.
    assert_eq!(read_lines(&rules, &db, "count(retrieve Counter.Batch [N > 100])"), ["0"]);
    assert_eq!(
        read_lines(&rules, &db, "count(retrieve Counter.Item [Counter.Item_Batch/Counter.Batch/N = 101])"),
        ["0"]
    );
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert_eq!(counts(&rules, &db), (5, 5 * ITEMS), "a reader did not see the commit");
    assert_eq!(read_lines(&rules, &db, "count(retrieve Counter.Batch [N > 100])"), ["3"]);
    assert_eq!(
        read_lines(&rules, &db, "count(retrieve Counter.Item [Counter.Item_Batch/Counter.Batch/N = 101])"),
        ["50"]
    );
    assert_eq!(check_store(&db), [1, 2, 101, 102, 103]);

    // A rolled-back transaction is never seen.
    let conn = sql(&db);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    insert_batch(&conn, 104);
    assert_eq!(counts(&rules, &db), (5, 5 * ITEMS));
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert_eq!(counts(&rules, &db), (5, 5 * ITEMS));
}

#[test]
fn a_failed_run_leaves_the_database_as_it_was() {
    let dir = Scratch::new("failed");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "fail.db");
    save(&rules, &db, &add_batches(&[1, 2]));
    let before_export = export(&dir, &rules, &db, "before.json");
    let before_rows = dump(&db);
    let before_counts = counts(&rules, &db);
    assert_eq!(before_counts, (2, 2 * ITEMS));

    let failing = [
        // A microflow's error after other statements of the run wrote and committed.
        (
            "call Counter.AddBatch(K = 3)\nlet $b = create Counter.Batch { N = 4 }\ncommit $b\ncall Counter.Fail(K = 5)",
            "boom",
        ),
        // A runtime error at the top level, after a whole batch.
        ("call Counter.AddBatch(K = 6)\nlet $x = 1 div 0", "division by zero"),
        // A failed expectation after a change and a delete of stored objects.
        (
            "for $i in retrieve Counter.Item { change $i { N = 99 } commit $i }\n\
             delete retrieve Counter.Batch [N = 1]\nexpect false",
            "expected `false` to hold",
        ),
    ];
    for (statements, message) in failing {
        let args = save_args(&rules, &db, statements);
        let out = output(&args);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
        assert!(text(&out.stderr).contains(message), "{}", describe(&args, &out));
        assert_eq!(counts(&rules, &db), before_counts, "after {statements:?}");
        assert_eq!(dump(&db), before_rows, "the rows changed after the failed run {statements:?}");
        assert_eq!(
            export(&dir, &rules, &db, "after.json"),
            before_export,
            "the export changed after the failed run {statements:?}"
        );
    }

    // Without `--save` a successful run sees its own changes, and the file is never written.
    let lines = read_lines(&rules, &db, "call Counter.AddBatch(K = 7)\ncount(retrieve Counter.Batch)");
    assert_eq!(lines.last().map(String::as_str), Some("3"), "{lines:?}");
    assert_eq!(dump(&db), before_rows, "a run without --save wrote the file");
    assert_eq!(export(&dir, &rules, &db, "after.json"), before_export);

    // And the store still takes a good run.
    save(&rules, &db, &add_batches(&[8]));
    assert_eq!(check_store(&db), [1, 2, 8]);
}

#[test]
fn a_store_whose_tables_differ_from_the_program_is_refused() {
    let dir = Scratch::new("schema");
    let rules = dir.write("counter.rules", &program());
    let db = new_store(&dir, &rules, "schema.db");
    save(&rules, &db, &add_batches(&[1]));
    let before = dump(&db);

    let refused = |name: &str, rules_text: &str, must_name: &[&str]| {
        let changed = dir.write(name, rules_text);
        for save_flag in [false, true] {
            let mut args = vec!["eval", s(&changed), "--store", s(&db), "-e", "count(retrieve Counter.Batch)"];
            if save_flag {
                args.push("--save");
            }
            let out = output(&args);
            assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
            let err = text(&out.stderr);
            for word in must_name {
                assert!(err.contains(word), "stderr should name {word}:\n{}", describe(&args, &out));
            }
            assert!(out.stdout.is_empty(), "nothing ran:\n{}", describe(&args, &out));
        }
        assert_eq!(dump(&db), before, "a refused program changed the file ({name})");
    };
    // `N` removed from Item: its values would be lost.
    refused("removed.rules", &entities("", ""), &["`Counter.Item`", "`N`"]);
    // `N` of Item now text.
    refused("retyped.rules", &entities("N: String", ""), &["`Counter.Item`", "`N`", "TEXT"]);
    // A new attribute of an existing entity has no column.
    refused("added.rules", &entities("N: Integer  M: Integer", ""), &["`Counter.Item`", "`M`"]);
    // An entity that is gone.
    refused("dropped.rules", "module Counter {\n  entity Batch { N: Integer }\n}\n", &["`Counter.Item`"]);

    // A new entity is additive: the store opens, read-only without leaving a trace.
    let grown = dir.write("grown.rules", &entities("N: Integer", "  entity Extra { M: Integer }"));
    let lines = read_lines(&grown, &db, "count(retrieve Counter.Batch)\ncount(retrieve Counter.Extra)");
    assert_eq!(lines, ["1", "0"]);
    assert_eq!(dump(&db), before, "a read-only run added a table to the file");
    // With `--save` the new table is made and written.
    save(&grown, &db, "let $e = create Counter.Extra { M = 5 }\ncommit $e");
    let lines = read_lines(&grown, &db, "count(retrieve Counter.Batch)\ncount(retrieve Counter.Extra [M = 5])");
    assert_eq!(lines, ["1", "1"]);
    assert_eq!(check_store(&db), [1]);
    // The old program, which lacks the entity, is now refused: the table's rows would be lost.
    let args = ["eval", s(&rules), "--store", s(&db), "-e", "count(retrieve Counter.Batch)"];
    let out = output(&args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    assert!(text(&out.stderr).contains("Counter.Extra"), "{}", describe(&args, &out));
}
