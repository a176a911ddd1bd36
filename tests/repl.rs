//! The REPL: a scripted run (stdin not a terminal) snapshotted, and a session
//! in a real pseudo-terminal driven keystroke by keystroke.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::process::Command as StdCommand;

use assert_cmd::Command;

const SCRIPT: &str = "\
:help as
:as anonymous:A
let $cart = create Shop.Cart { Total = 3 }
commit $cart
retrieve Shop.Cart
:as anonymous:B
change #3 { Price = 1 }
:explain write $cart/Total
:as anonymous:A
for $c in retrieve Shop.Cart {
  change $c { Total = 9 }
  commit $c
}
$cart/Total
:type count(retrieve Shop.Cart)
:signin carl
retrieve Shop.Cart
:as maria
retrieve Shop.Product
:frobnicate
:quit
";

/// A script over the demo app and its shop's store (`examples/shop.store.json`).
#[test]
fn a_scripted_session() {
    let out = Command::cargo_bin("warden")
        .unwrap()
        .env("NO_COLOR", "1")
        .args([
            "repl",
            "--color",
            "never",
            "examples/",
            "--store",
            "examples/shop.store.json",
            "--now",
            "2026-11-22T10:00:00Z",
        ])
        .write_stdin(SCRIPT)
        .output()
        .unwrap();
    let shown = format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(shown);
    assert_eq!(out.status.code(), Some(1), "a statement failed, so the run fails");
}

/// Waits for a fresh prompt: the editor starting a new line (not a redraw while typing).
fn prompt(p: &mut rexpect::session::PtySession, who: &str) {
    p.exp_string(&format!("\x1b[?2004h\r\x1b[K{who}> ")).unwrap_or_else(|e| panic!("no `{who}> ` prompt: {e}"));
}

/// Drives `warden repl examples/` in a pseudo-terminal and checks the screen at each step.
#[test]
fn an_interactive_session_in_a_terminal() {
    let home = std::env::temp_dir().join(format!("warden-repl-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args([
        "repl",
        "--color",
        "never",
        "examples/",
        "--store",
        "examples/events.store.json",
        "--now",
        "2026-11-22T10:00:00Z",
    ])
    .env("XDG_DATA_HOME", &home)
    .env("HOME", &home)
    .env("TERM", "xterm")
    .env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).expect("spawning warden repl");
    p.exp_string("`:help` for commands").unwrap();
    prompt(&mut p, "system");

    // Act as an anonymous session: the prompt says so.
    p.send_line(":as anonymous:A").unwrap();
    prompt(&mut p, "anonymous:A");

    // Create and commit an object.
    p.send_line("let $r = create Events.Registration { Seats = 2, Events.Registration_Event = #3 }").unwrap();
    prompt(&mut p, "anonymous:A");
    p.send_line("commit $r").unwrap();
    prompt(&mut p, "anonymous:A");
    p.send_line("retrieve Events.Registration").unwrap();
    p.exp_string("Events.Registration #9 { Seats: 2").unwrap();

    // A denied write, with its diagnostic.
    p.send_line("change #3 { Title = 'Mine' }").unwrap();
    p.exp_string("R001").unwrap();
    p.exp_string("may not write `Title` of Events.Event #3").unwrap();
    prompt(&mut p, "anonymous:A");

    // Explain that denial.
    p.send_line(":explain write #3/Title").unwrap();
    p.exp_string("deny: anonymous:A write Title of Events.Event #3").unwrap();
    p.exp_string("grants read Title, Starts, Audience").unwrap();
    prompt(&mut p, "anonymous:A");

    // Tab completes a partly typed entity name.
    p.send("retrieve Events.Regis").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("Events.Registration").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Seats: 2").unwrap();
    prompt(&mut p, "anonymous:A");

    // A multi-line block continues while a brace is open.
    p.send_line("for $x in retrieve Events.Registration {").unwrap();
    p.send_line("  change $x { Seats = 5 }").unwrap();
    p.send_line("  commit $x").unwrap();
    p.send_line("}").unwrap();
    prompt(&mut p, "anonymous:A");
    p.send_line("$r/Seats").unwrap();
    p.exp_string("5").unwrap();
    prompt(&mut p, "anonymous:A");

    // Sign in: the registration follows the visitor to noor.
    p.send_line(":signin noor").unwrap();
    prompt(&mut p, "noor");
    p.send_line("count(retrieve Events.Registration)").unwrap();
    p.exp_string("3").unwrap();
    prompt(&mut p, "noor");

    // Leave.
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    assert!(home.join("warden").join("history.txt").exists(), "history is kept in the data directory");
}
