//! `warden diff`: loads two versions of a program (two paths, or the working tree
//! and a git revision) and prints what the change gives or takes from each role.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::json;

use warden::check::Checked;
use warden::source::SourceMap;

use super::output::Out;
use super::FAILED;
use crate::Format;

/// What to compare.
pub struct Run<'a> {
    /// OLD NEW, or the paths to compare with `git`.
    pub paths: &'a [PathBuf],
    /// The revision the working tree is compared with.
    pub git: Option<&'a str>,
    /// The role whose gains fail the run.
    pub fail_on_widening: Option<&'a str>,
}

/// Runs `warden diff`; `markdown` prints the human report as markdown.
pub fn run(run: &Run<'_>, markdown: bool, out: Out) -> ExitCode {
    let (old, new) = match sources(run, &out) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let (old, new) = (warden::load::load(old), warden::load::load(new));
    for (version, checked) in [("the old version", &old), ("the new version", &new)] {
        if checked.has_errors() {
            let note = format!("{version} does not check; fix it before comparing");
            return out.rules(&checked.diagnostics, &checked.program.sources, &note);
        }
    }
    if let Some(role) = run.fail_on_widening {
        if let Some(code) = unknown_role(role, &old, &new, &out) {
            return code;
        }
    }
    let findings = |c: &Checked| warden::audit::audit(&c.program);
    let diff = warden::diff::diff(&old.program, &new.program, &findings(&old), &findings(&new));
    let widened = run.fail_on_widening.filter(|role| diff.widens(role));
    let message = widened.map(|role| format!("the change widens what `{role}` may do (--fail-on-widening {role})"));
    match out.format {
        Format::Json | Format::Sarif => {
            let mut doc = json!(diff);
            if let Some(m) = &message {
                doc["error"] = super::output::error("widening", m, None);
            }
            out.print(&doc)
        }
        Format::Human if markdown => print!("{}", warden::diff::markdown(&diff)),
        Format::Human => print!("{}", warden::diagnostic::clean(&warden::diff::render(&diff))),
    }
    match message {
        Some(m) => {
            if out.format == Format::Human {
                eprintln!("error: {m}");
            }
            ExitCode::from(FAILED)
        }
        None => ExitCode::SUCCESS,
    }
}

/// A role named by `--fail-on-widening` that neither version has is a usage error, so that a
/// typo in a CI job cannot make the check pass forever.
fn unknown_role(role: &str, old: &Checked, new: &Checked, out: &Out) -> Option<ExitCode> {
    let programs = [&old.program, &new.program];
    if programs.iter().any(|p| p.user_role_by_name(role).is_some()) {
        return None;
    }
    let names: Vec<&str> = programs
        .iter()
        .flat_map(|p| p.user_roles.iter().map(|r| r.name.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let help = match warden::diagnostic::suggest::closest(role, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`? the user roles are: {}", names.join(", ")),
        None => format!("the user roles are: {}", names.join(", ")),
    };
    Some(out.usage(format!("no user role `{role}` in either version"), Some(help)))
}

fn sources(run: &Run<'_>, out: &Out) -> Result<(SourceMap, SourceMap), ExitCode> {
    let read = |paths: &[PathBuf]| warden::load::read_sources(paths).map_err(|e| out.io(e));
    match run.git {
        None => match run.paths {
            [old, new] => Ok((read(std::slice::from_ref(old))?, read(std::slice::from_ref(new))?)),
            _ => Err(out.usage(
                "give two paths, OLD and NEW, or `--git REV` with the paths to compare",
                Some("`warden diff rules-before/ rules/` or `warden diff --git origin/main rules/`".into()),
            )),
        },
        Some(rev) => {
            let paths: Vec<PathBuf> = if run.paths.is_empty() { vec![PathBuf::from(".")] } else { run.paths.to_vec() };
            let old = at_revision(rev, &paths).map_err(|e| out.io(e))?;
            Ok((old, read(&paths)?))
        }
    }
}

/// The `.rules` files under `paths` as they were at `rev`.
fn at_revision(rev: &str, paths: &[PathBuf]) -> Result<SourceMap, String> {
    if rev.starts_with('-') {
        return Err(format!("`{rev}` is not a revision"));
    }
    let mut listing = vec!["ls-tree".to_string(), "-r".into(), "--name-only".into(), rev.into(), "--".into()];
    listing.extend(paths.iter().map(|p| p.display().to_string()));
    let names = git(&listing)?;
    let mut files: Vec<&str> = names.lines().filter(|n| n.ends_with(".rules")).collect();
    files.sort_unstable();
    let mut sources = SourceMap::new();
    for name in files {
        let text = git(&["show".into(), format!("{rev}:./{name}")])?;
        sources.add(Path::new(rev).join(name), text);
    }
    if sources.files().next().is_none() {
        return Err(format!("no `.rules` files under the given paths at `{rev}`"));
    }
    Ok(sources)
}

fn git(args: &[String]) -> Result<String, String> {
    let output = Command::new("git").args(args).output().map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        return Err(format!("git {}: {}", args.join(" "), message.trim()));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("git {}: the output is not UTF-8", args.join(" ")))
}
