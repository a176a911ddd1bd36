//! The REPL's completion by context, its continuation prompt, and what `:signin`,
//! `:reset` and `:as` say: through the library's shell, and in a real
//! pseudo-terminal for the line editor.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::path::PathBuf;
use std::process::Command as StdCommand;

use warden::eval::PrincipalName;
use warden::shell::Shell;

fn shell() -> Shell {
    let now = warden::time::parse_instant("2026-11-22T10:00:00Z");
    let store = PathBuf::from("examples/events.store.json");
    Shell::open(&[PathBuf::from("examples/")], Some(&store), &PrincipalName::System, now)
        .unwrap_or_else(|r| panic!("the examples open: {}", r.text))
}

fn complete(shell: &mut Shell, line: &str) -> Vec<String> {
    shell.completion_index().complete(line, line.len()).1
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn a_variable_and_a_slash_complete_its_entitys_members() {
    let mut s = shell();
    assert!(s.handle("let $one = retrieve first Events.Event").diagnostics.is_empty());
    assert_eq!(complete(&mut s, "$one/"), strings(&["Audience", "Budget", "Capacity", "Starts", "Title"]));
    assert_eq!(complete(&mut s, "count($one/Ti"), strings(&["Title"]));
    assert!(s.handle("let $r = retrieve first Events.Registration").diagnostics.is_empty());
    assert_eq!(
        complete(&mut s, "$r/"),
        strings(&["Events.Registration_Event", "Note", "Seats", "System.owner", "createdDate"])
    );
    // Along an association, the members of the entity it reaches.
    assert_eq!(complete(&mut s, "$r/Events.Registration_Event/St"), strings(&["Starts"]));
    // `$currentUser` is a System.User.
    assert!(complete(&mut s, "$currentUser/").contains(&"Name".to_string()));
}

#[test]
fn retrieve_offers_entities_only() {
    let mut s = shell();
    assert_eq!(complete(&mut s, "retrieve Events."), strings(&["Events.Event", "Events.Registration"]));
    assert_eq!(complete(&mut s, "count(retrieve first Events.R"), strings(&["Events.Registration"]));
    assert_eq!(complete(&mut s, "let $e = create Events.E"), strings(&["Events.Event"]));
    // Anywhere else the microflow and the enumeration values are there too.
    let anywhere = complete(&mut s, "Events.");
    for w in ["Events.KeepRegistrations", "Events.Audience.Everyone", "Events.Event"] {
        assert!(anywhere.contains(&w.to_string()), "{w} in {anywhere:?}");
    }
}

#[test]
fn call_offers_microflows() {
    let mut s = shell();
    assert_eq!(
        complete(&mut s, "call "),
        strings(&[
            "Clinic.PurgeAppointments",
            "Events.KeepRegistrations",
            "Portal.HandOver",
            "Quotes.Calculate",
            "Quotes.KeepQuotes",
            "Shop.Checkout",
            "Shop.TransferCart"
        ])
    );
    assert_eq!(complete(&mut s, "expect allow call Ev"), strings(&["Events.KeepRegistrations"]));
    assert_eq!(complete(&mut s, ":explain call Events.K"), strings(&["Events.KeepRegistrations"]));
}

#[test]
fn inside_braces_and_brackets_the_entitys_members() {
    let mut s = shell();
    assert_eq!(complete(&mut s, "create Events.Event { Title = 'x', Cap"), strings(&["Capacity"]));
    assert_eq!(complete(&mut s, "retrieve Events.Registration [Se"), strings(&["Seats"]));
    assert!(s.handle("let $e = retrieve first Events.Event").diagnostics.is_empty());
    assert_eq!(complete(&mut s, "change $e { Bu"), strings(&["Budget"]));
}

#[test]
fn commands_and_principals() {
    let mut s = shell();
    assert_eq!(complete(&mut s, ":si"), strings(&[":signin"]));
    let principals = complete(&mut s, ":as ");
    for p in ["system", "anonymous", "noor"] {
        assert!(principals.contains(&p.to_string()), "{p} in {principals:?}");
    }
    assert_eq!(complete(&mut s, ":signin no"), strings(&["noor"]));
}

#[test]
fn signin_says_what_happened_and_reset_returns_to_the_first_principal() {
    let mut s = shell();
    assert!(s.handle(":as anonymous:A").diagnostics.is_empty());
    let reply = s.handle(":signin noor");
    assert!(reply.diagnostics.is_empty(), "{:?}", reply.diagnostics);
    assert_eq!(
        reply.text,
        "signed in: anonymous:A is now noor; the sign-in microflow Portal.HandOver ran and the anonymous user was deleted\n"
    );
    assert_eq!(s.prompt(), "noor> ");
    let reply = s.handle(":reset");
    assert_eq!(reply.text, "reset: the store as loaded, no sessions, no variables; acting as system again\n");
    assert_eq!(s.prompt(), "system> ");
}

#[test]
fn an_unknown_principal_is_a_line_not_a_snippet() {
    let mut s = shell();
    let reply = s.handle(":as nobdy");
    assert!(reply.diagnostics.is_empty(), "no diagnostic pointing into some file");
    assert!(reply.usage);
    assert!(reply.text.starts_with("error: no user named `nobdy`"), "{}", reply.text);
    assert_eq!(s.prompt(), "system> ", "nothing changed");
    // At start-up it is a wrong argument: exit 2.
    let out = StdCommand::new(env!("CARGO_BIN_EXE_warden"))
        .args(["repl", "examples/", "--store", "examples/events.store.json", "--as", "nobody"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: no user named `nobody`\n");
}

/// Waits for a fresh prompt: the editor starting a new line.
fn prompt(p: &mut rexpect::session::PtySession, who: &str) {
    p.exp_string(&format!("\x1b[?2004h\r\x1b[K{who}> ")).unwrap_or_else(|e| panic!("no `{who}> ` prompt: {e}"));
}

/// In a terminal: Tab after `$one/` lists the members, an open block continues
/// under `...> `, `:reset` shows the first principal's prompt again.
#[test]
fn completion_and_continuation_in_a_terminal() {
    let home = std::env::temp_dir().join(format!("warden-repl-completion-{}", std::process::id()));
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
    prompt(&mut p, "system");

    p.send_line("let $one = retrieve first Events.Event").unwrap();
    prompt(&mut p, "system");
    // Two Tabs list the candidates.
    p.send("$one/Ca").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("Capacity").unwrap();
    p.send_line("").unwrap();
    p.exp_string("20").unwrap();
    prompt(&mut p, "system");

    // `retrieve Events.` + Tab Tab lists the two entities, not the microflow.
    p.send("retrieve Events.").unwrap();
    p.send("\t\t").unwrap();
    p.flush().unwrap();
    p.exp_string("Events.Event").unwrap();
    p.exp_string("Events.Registration").unwrap();
    p.send_control('c').unwrap();
    prompt(&mut p, "system");

    // An open block continues under the continuation prompt.
    p.send_line("for $e in retrieve Events.Event {").unwrap();
    p.exp_string("...> ").unwrap();
    p.send_line("  log $e/Title").unwrap();
    p.exp_string("...> ").unwrap();
    p.send_line("}").unwrap();
    p.exp_string("log: Repair cafe").unwrap();
    prompt(&mut p, "system");

    p.send_line(":as anonymous:A").unwrap();
    prompt(&mut p, "anonymous:A");
    p.send_line(":signin noor").unwrap();
    p.exp_string("signed in: anonymous:A is now noor").unwrap();
    prompt(&mut p, "noor");
    p.send_line(":reset").unwrap();
    p.exp_string("acting as system again").unwrap();
    prompt(&mut p, "system");

    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let _ = std::fs::remove_dir_all(&home);
}

/// The REPL's completion is the language server's: tokens inside `'[%`, roles after `for`.
#[test]
fn tokens_and_roles_complete_as_in_the_editor() {
    let mut s = shell();
    assert_eq!(
        complete(&mut s, "retrieve Events.Event [Starts > '[%BeginOfCurrentD"),
        strings(&["BeginOfCurrentDay", "BeginOfCurrentDayUTC"])
    );
    assert!(complete(&mut s, "explain for ").contains(&"Events.Visitor".to_string()));
}
