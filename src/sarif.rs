//! SARIF 2.1.0 output, the format code-scanning services read.

use serde_json::{json, Value};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The first paragraph of an explanation, on one line: a rule's `fullDescription`.
fn first_paragraph(explanation: &str) -> String {
    let paragraph = explanation.split("\n\n").next().unwrap_or(explanation);
    paragraph.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A SARIF log with one run: a rule per code seen (described by the code
/// registry, [`crate::codes`]: `shortDescription` from its summary, `fullDescription` and
/// `help` from its explanation), a result per diagnostic.
pub fn to_sarif(diagnostics: &[Diagnostic], sources: &SourceMap) -> Value {
    log(diagnostics, sources, None)
}

/// A SARIF log for a run that could not do its work: the diagnostics found so
/// far (when the rules do not check) and a notification saying why it stopped.
pub fn to_sarif_failed(diagnostics: &[Diagnostic], sources: &SourceMap, why: &str) -> Value {
    log(diagnostics, sources, Some(why))
}

fn log(diagnostics: &[Diagnostic], sources: &SourceMap, failure: Option<&str>) -> Value {
    let mut codes: Vec<crate::codes::Code> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            let (text, severity) = (code.info().summary, code.severity());
            let mut rule = json!({
                "id": code,
                "shortDescription": { "text": text },
                "defaultConfiguration": { "level": level(severity) },
            });
            if let Some(explanation) = Some(code.info().explanation) {
                rule["fullDescription"] = json!({ "text": first_paragraph(explanation) });
                rule["help"] = json!({ "text": explanation, "markdown": explanation });
            }
            rule
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let j = d.to_json(sources);
            let text = match &j.help {
                Some(h) => format!("{} (help: {h})", j.message),
                None => j.message.clone(),
            };
            json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": j.file.replace('\\', "/") },
                        "region": {
                            "startLine": j.line, "startColumn": j.column,
                            "endLine": j.end_line, "endColumn": j.end_column
                        }
                    }
                }]
            })
        })
        .collect();
    let invocation = match failure {
        None => json!({ "executionSuccessful": true }),
        Some(why) => json!({
            "executionSuccessful": false,
            "toolExecutionNotifications": [{ "level": "error", "message": { "text": why } }],
        }),
    };
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "warden",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/warden-rules/warden",
                "rules": rules
            }},
            "invocations": [invocation],
            "results": results
        }]
    })
}
