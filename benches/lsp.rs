//! Edit to diagnostics in `warden lsp`: the 10,000-rule program of `benches/check.rs`, split
//! as a workspace would hold it (one file per module, 1,000 rules each, and one of user
//! roles), open in the server; each iteration changes one access rule of one file
//! (`didChange`) and takes every file's diagnostics back. The files that did not change are
//! not parsed again, and of the edited file only the edited rule is; the declarations are
//! checked again, the access rules of the other files are not (see docs/editors.md), and the
//! whole program is audited.
//!
//! Run with `cargo bench --bench lsp`; the parse and check of the whole program from text is
//! measured beside it, for the ratio, and the parts of an edit: parsing the edited file,
//! checking the parsed program, auditing it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly on a broken fixture")]

use criterion::{criterion_group, criterion_main, Criterion};
use lsp_server::{Message, Notification, Request, RequestId};
use serde_json::json;

#[path = "fixtures/generate.rs"]
mod generate;

/// The generated program, one file per module (the user roles in their own file).
fn split(text: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut current = String::new();
    let mut roles = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("user role") {
            roles.push_str(line);
            continue;
        }
        current.push_str(line);
        if line == "}\n" {
            files.push((format!("m{}.rules", files.len()), std::mem::take(&mut current)));
        }
    }
    files.push(("roles.rules".to_string(), roles));
    files
}

fn bench(c: &mut Criterion) {
    let text = generate::generate(1_000, 10);
    let dir = std::env::temp_dir().join(format!("warden-bench-lsp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = split(&text);
    for (name, body) in &files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let root = format!("file://{}", dir.canonicalize().unwrap().display());
    let mut server = warden::lsp::Server::new();
    let init = json!({"processId": null, "rootUri": root, "capabilities": {}});
    let out = server.handle(Message::Request(Request::new(RequestId::from(1), "initialize".into(), init)));
    let published = |out: &[Message]| {
        out.iter()
            .filter_map(|m| match m {
                Message::Notification(n) => Some(n.params["diagnostics"].as_array().unwrap().len()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(published(&out), vec![0; files.len()], "the generated program must be clean");
    // One file open in the editor; the edit swaps the grants of one access rule.
    let uri = format!("{root}/m3.rules");
    let original = files[3].1.clone();
    let rule = "  access E103 for R4 {\n    read Name, Amount\n  }\n";
    assert!(original.contains(rule), "the rule to edit");
    let edited = original.replacen(rule, "  access E103 for R4 {\n    read Amount, Name\n  }\n", 1);
    let open = json!({"textDocument": {"uri": uri, "languageId": "rules", "version": 1, "text": original}});
    server.handle(Message::Notification(Notification::new("textDocument/didOpen".into(), open)));
    let mut version = 1;
    let mut group = c.benchmark_group("lsp");
    group.sample_size(20);
    group.bench_function("edit_to_diagnostics_10k_rules_11_files", |b| {
        b.iter(|| {
            version += 1;
            let text = if version % 2 == 0 { &edited } else { &original };
            let change = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]});
            let out = server.handle(Message::Notification(Notification::new("textDocument/didChange".into(), change)));
            assert_eq!(out.len(), files.len());
            out
        })
    });
    let mut sources = warden::source::SourceMap::new();
    for (name, body) in &files {
        sources.add(name.as_str(), body.clone());
    }
    group.bench_function("parse_and_check_10k_rules_11_files", |b| b.iter(|| warden::load::load(sources.clone())));
    // Its parts: parsing the edited file, checking the parsed program, auditing it.
    let edited_file = files[3].1.clone();
    group.bench_function("parse_one_file_1k_rules", |b| {
        b.iter(|| warden::syntax::parse_file(&edited_file, warden::source::FileId(3)))
    });
    let trees: Vec<_> = sources.files().map(|(id, f)| warden::syntax::parse_file(&f.text, id).unwrap()).collect();
    group.bench_function("check_parsed_10k_rules_11_files", |b| {
        b.iter(|| warden::check::check(sources.clone(), &trees))
    });
    let checked = warden::check::check(sources.clone(), &trees);
    group.bench_function("audit_10k_rules", |b| b.iter(|| warden::audit::audit(&checked.program)));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
