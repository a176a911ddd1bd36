//! SARIF 2.1.0 output, the format code-scanning services read.

use serde_json::{json, Value};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

/// A SARIF log with one run: a rule per code seen, a result per diagnostic.
pub fn to_sarif(diagnostics: &[Diagnostic], sources: &SourceMap) -> Value {
    let mut codes: Vec<(&str, &str)> = diagnostics.iter().map(|d| (d.code, d.message.as_str())).collect();
    codes.sort_by_key(|(c, _)| *c);
    codes.dedup_by_key(|(c, _)| *c);
    let rules: Vec<Value> = codes
        .iter()
        .map(|(code, message)| {
            let text = crate::audit::rule_description(code).unwrap_or(message);
            json!({ "id": code, "shortDescription": { "text": text } })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let j = d.to_json(sources);
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let text = match &d.help {
                Some(h) => format!("{} (help: {h})", d.message),
                None => d.message.clone(),
            };
            json!({
                "ruleId": d.code,
                "level": level,
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
            "results": results
        }]
    })
}
