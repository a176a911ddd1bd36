//! `warden lsp`: the language server. The checker, the audit, the formatter, completion and the
//! test runner, answered over the Language Server Protocol (JSON-RPC frames on a byte stream),
//! one message at a time and in order, so that the same frames in give the same frames out.
//!
//! [`serve`] reads frames from any reader and writes them to any writer (the command line gives
//! it standard input and output); [`Server::handle`] answers one message. A frame that is not
//! JSON, a message that is not JSON-RPC and a method the server does not know are answered with
//! their JSON-RPC error, and the server goes on.
//!
//! The workspace is every `.rules` file under the client's folders, loaded as `warden check
//! DIR` loads them, with the open documents' text over the files'. Each file's parse is kept
//! until its text changes; every change checks the whole program again.

mod convert;
mod edit;
mod navigate;
mod workspace;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types as lt;
use serde_json::Value;

use convert::{path_of, uri_of};
use workspace::Workspace;

/// The commands of code lenses and code actions.
pub const RUN_COMMAND: &str = "warden.run";
/// Accepts a snapshot's new text (`warden test --accept` for one block).
pub const ACCEPT_COMMAND: &str = "warden.accept";
/// The custom request for a code's explanation (`warden explain-code CODE`).
pub const EXPLAIN_CODE_REQUEST: &str = "warden/explainCode";

/// Serves one client: reads frames from `input` until it ends or the client sends `exit`, and
/// writes every answer to `output`. Returns whether the client asked to shut down before it
/// exited (the exit status is 0 then, 1 otherwise, as the protocol says).
pub fn serve(mut input: impl BufRead, mut output: impl Write) -> std::io::Result<bool> {
    let mut server = Server::new();
    loop {
        let frame = match read_frame(&mut input)? {
            Frame::End => return Ok(server.shut_down),
            Frame::Bad(message) => {
                write_null_error(&mut output, ErrorCode::ParseError, &message)?;
                continue;
            }
            Frame::Body(body) => body,
        };
        let messages = match parse_message(&frame) {
            Ok(message) => {
                if matches!(&message, Message::Notification(n) if n.method == "exit") {
                    return Ok(server.shut_down);
                }
                let id = match &message {
                    Message::Request(r) => Some(r.id.clone()),
                    _ => None,
                };
                // A bug in one answer must not end the session: the request gets an internal
                // error, and the server goes on.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.handle(message))) {
                    Ok(messages) => messages,
                    Err(_) => id
                        .map(|id| error_response(id, ErrorCode::InternalError, "warden lsp failed on this request"))
                        .into_iter()
                        .map(Message::Response)
                        .collect(),
                }
            }
            Err((Some(id), code, message)) => vec![error_response(id, code, message).into()],
            Err((None, code, message)) => {
                write_null_error(&mut output, code, &message)?;
                continue;
            }
        };
        for message in messages {
            write(&mut output, message)?;
        }
    }
}

fn write(output: &mut impl Write, message: impl Into<Message>) -> std::io::Result<()> {
    message.into().write(output)?;
    output.flush()
}

/// An error response to a message whose id could not be read: its id is `null`.
fn write_null_error(output: &mut impl Write, code: ErrorCode, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code as i32, "message": message}});
    let text = body.to_string();
    write!(output, "Content-Length: {}\r\n\r\n{text}", text.len())?;
    output.flush()
}

/// One frame of the stream.
enum Frame {
    /// The stream ended.
    End,
    /// A frame whose header is wrong: what is wrong.
    Bad(String),
    /// A frame's body.
    Body(Vec<u8>),
}

/// The longest body the server reads (a frame claiming more is refused and skipped).
const LONGEST_FRAME: usize = 64 << 20;

/// Reads one frame: headers up to an empty line, then `Content-Length` bytes.
fn read_frame(input: &mut impl BufRead) -> std::io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut any = false;
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(if any { Frame::Bad("the stream ended inside a frame's header".into()) } else { Frame::End });
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if !any {
                continue; // blank lines between frames
            }
            break;
        }
        any = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length =
                    Some(value.trim().parse::<usize>().map_err(|_| format!("bad Content-Length `{}`", value.trim())));
            }
        } else {
            length = Some(Err(format!("malformed header line `{}`", crate::diagnostic::shorten_name(line))));
        }
    }
    let length = match length {
        None => return Ok(Frame::Bad("a frame without Content-Length".into())),
        Some(Err(message)) => return Ok(Frame::Bad(message)),
        Some(Ok(n)) if n > LONGEST_FRAME => {
            std::io::copy(&mut std::io::Read::take(&mut *input, n as u64), &mut std::io::sink())?;
            return Ok(Frame::Bad(format!("a frame of {n} bytes is more than the {LONGEST_FRAME} the server reads")));
        }
        Some(Ok(n)) => n,
    };
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

/// A frame's body as a message, or the error it gets (with the message's id when it has one).
fn parse_message(body: &[u8]) -> Result<Message, (Option<RequestId>, ErrorCode, String)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| (None, ErrorCode::ParseError, format!("the frame is not JSON: {e}")))?;
    let id = value.get("id").cloned();
    let message = serde_json::from_value::<Message>(value)
        .map_err(|e| (None::<RequestId>, ErrorCode::InvalidRequest, format!("not a JSON-RPC message: {e}")));
    let id = id.and_then(|id| serde_json::from_value::<RequestId>(id).ok());
    message.map_err(|(_, code, text)| (id, code, text))
}

/// An error response.
fn error_response(id: RequestId, code: ErrorCode, message: impl Into<String>) -> Response {
    Response::new_err(id, code as i32, message.into())
}

/// The state of one session with a client.
pub struct Server {
    workspace: Workspace,
    /// Whether `shutdown` was received.
    shut_down: bool,
    /// The outcome of the last run of each test or snapshot block, by (file, name).
    runs: std::collections::BTreeMap<(PathBuf, String), navigate::RunOutcome>,
}

impl Default for Server {
    fn default() -> Server {
        Server::new()
    }
}

impl Server {
    /// A server before `initialize`.
    pub fn new() -> Server {
        Server { workspace: Workspace::default(), shut_down: false, runs: Default::default() }
    }

    /// Answers one message: the response to a request, and any notifications (diagnostics).
    pub fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Request(request) => self.request(request),
            Message::Notification(notification) => self.notification(notification),
            Message::Response(_) => Vec::new(),
        }
    }

    fn request(&mut self, request: Request) -> Vec<Message> {
        let Request { id, method, params } = request;
        if self.shut_down && method != "shutdown" {
            return vec![error_response(id, ErrorCode::InvalidRequest, "the server is shutting down").into()];
        }
        let result = match method.as_str() {
            "initialize" => self.initialize(params),
            "shutdown" => {
                self.shut_down = true;
                Ok((Value::Null, Vec::new()))
            }
            _ => self.dispatch(&method, params),
        };
        match result {
            Ok((value, mut after)) => {
                let mut out = vec![Message::Response(Response::new_ok(id, value))];
                out.append(&mut after);
                out
            }
            Err(Failure(code, message)) => vec![error_response(id, code, message).into()],
        }
    }

    fn initialize(&mut self, params: Value) -> Answer {
        let params: lt::InitializeParams = parse(params)?;
        let mut roots: Vec<PathBuf> =
            params.workspace_folders.unwrap_or_default().iter().filter_map(|f| f.uri.to_file_path().ok()).collect();
        #[allow(deprecated, reason = "older clients send only rootUri")]
        if roots.is_empty() {
            roots.extend(params.root_uri.and_then(|u| u.to_file_path().ok()));
        }
        self.workspace.load(roots);
        let capabilities = lt::ServerCapabilities {
            text_document_sync: Some(lt::TextDocumentSyncCapability::Options(lt::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lt::TextDocumentSyncKind::FULL),
                save: Some(lt::TextDocumentSyncSaveOptions::SaveOptions(lt::SaveOptions { include_text: Some(true) })),
                ..Default::default()
            })),
            hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
            definition_provider: Some(lt::OneOf::Left(true)),
            references_provider: Some(lt::OneOf::Left(true)),
            completion_provider: Some(lt::CompletionOptions {
                trigger_characters: Some(vec!["/".into(), "$".into(), "%".into(), ".".into()]),
                ..Default::default()
            }),
            document_formatting_provider: Some(lt::OneOf::Left(true)),
            document_range_formatting_provider: Some(lt::OneOf::Left(true)),
            document_symbol_provider: Some(lt::OneOf::Left(true)),
            folding_range_provider: Some(lt::FoldingRangeProviderCapability::Simple(true)),
            rename_provider: Some(lt::OneOf::Right(lt::RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: Default::default(),
            })),
            code_action_provider: Some(lt::CodeActionProviderCapability::Options(lt::CodeActionOptions {
                code_action_kinds: Some(vec![lt::CodeActionKind::QUICKFIX]),
                ..Default::default()
            })),
            code_lens_provider: Some(lt::CodeLensOptions { resolve_provider: Some(false) }),
            execute_command_provider: Some(lt::ExecuteCommandOptions {
                commands: vec![RUN_COMMAND.into(), ACCEPT_COMMAND.into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let result = lt::InitializeResult {
            capabilities,
            server_info: Some(lt::ServerInfo {
                name: "warden".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        };
        // Every file's diagnostics come right away, before the first open.
        let after = self.publish_all();
        Ok((to_value(result), after))
    }

    fn dispatch(&mut self, method: &str, params: Value) -> Answer {
        let value = match method {
            "textDocument/hover" => to_value(self.hover(parse(params)?)),
            "textDocument/definition" => to_value(self.definition(parse(params)?)),
            "textDocument/references" => to_value(self.references(parse(params)?)),
            "textDocument/completion" => to_value(self.completion(parse(params)?)),
            "textDocument/formatting" => to_value(self.formatting(parse(params)?)?),
            "textDocument/rangeFormatting" => to_value(self.range_formatting(parse(params)?)?),
            "textDocument/documentSymbol" => to_value(self.document_symbols(parse(params)?)),
            "textDocument/foldingRange" => to_value(self.folding(parse(params)?)),
            "textDocument/prepareRename" => to_value(self.prepare_rename(parse(params)?)?),
            "textDocument/rename" => to_value(self.rename(parse(params)?)?),
            "textDocument/codeAction" => to_value(self.code_actions(parse(params)?)),
            "textDocument/codeLens" => to_value(self.code_lenses(parse(params)?)),
            "workspace/executeCommand" => {
                let (value, after) = self.execute(parse(params)?)?;
                return Ok((value, after));
            }
            EXPLAIN_CODE_REQUEST => {
                let code: String = parse(params.get("code").cloned().unwrap_or(Value::Null))?;
                let info = crate::codes::CODES.iter().find(|c| c.code.as_str().eq_ignore_ascii_case(&code));
                match info {
                    Some(info) => Value::String(explanation_text(info)),
                    None => return Err(Failure(ErrorCode::InvalidParams, format!("no code `{code}`"))),
                }
            }
            _ => return Err(Failure(ErrorCode::MethodNotFound, format!("warden lsp has no method `{method}`"))),
        };
        Ok((value, Vec::new()))
    }

    fn notification(&mut self, notification: Notification) -> Vec<Message> {
        let Notification { method, params } = notification;
        match method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = parse::<lt::DidOpenTextDocumentParams>(params) else { return Vec::new() };
                let Some(path) = path_of(&p.text_document.uri) else { return Vec::new() };
                let doc = self.workspace.doc_mut(&path);
                doc.open = true;
                doc.set_text(p.text_document.text);
                self.publish_all()
            }
            "textDocument/didChange" => {
                let Ok(p) = parse::<lt::DidChangeTextDocumentParams>(params) else { return Vec::new() };
                let Some(path) = path_of(&p.text_document.uri) else { return Vec::new() };
                let doc = self.workspace.doc_mut(&path);
                let mut text = doc.text.clone();
                for change in p.content_changes {
                    match change.range {
                        Some(range) => {
                            let lines = workspace::line_starts(&text);
                            let start = convert::offset(&text, &lines, range.start);
                            let end = convert::offset(&text, &lines, range.end).max(start);
                            text.replace_range(start..end, &change.text);
                        }
                        None => text = change.text,
                    }
                }
                doc.set_text(text);
                self.publish_all()
            }
            "textDocument/didSave" => {
                let Ok(p) = parse::<lt::DidSaveTextDocumentParams>(params) else { return Vec::new() };
                if let (Some(path), Some(text)) = (path_of(&p.text_document.uri), p.text) {
                    self.workspace.doc_mut(&path).set_text(text);
                }
                self.publish_all()
            }
            "textDocument/didClose" => {
                let Ok(p) = parse::<lt::DidCloseTextDocumentParams>(params) else { return Vec::new() };
                let Some(path) = path_of(&p.text_document.uri) else { return Vec::new() };
                let had = self.workspace.docs.len();
                self.workspace.close(&path);
                let mut out = self.publish_all();
                if self.workspace.docs.len() < had {
                    out.push(publish(uri_of(&path), Vec::new()));
                }
                out
            }
            "workspace/didChangeWatchedFiles" => {
                let Ok(p) = parse::<lt::DidChangeWatchedFilesParams>(params) else { return Vec::new() };
                let mut removed = Vec::new();
                for change in p.changes {
                    let Some(path) = path_of(&change.uri) else { continue };
                    if path.extension().is_none_or(|e| e != "rules") {
                        continue;
                    }
                    // An open file's text is the editor's.
                    if self.workspace.index_of(&path).is_some_and(|i| self.workspace.docs[i].open) {
                        continue;
                    }
                    match std::fs::read(&path) {
                        Ok(bytes) if change.typ != lt::FileChangeType::DELETED => {
                            self.workspace.doc_mut(&path).set_text(String::from_utf8_lossy(&bytes).into_owned());
                        }
                        _ => {
                            if let Some(i) = self.workspace.index_of(&path) {
                                self.workspace.docs.remove(i);
                                removed.push(path);
                            }
                        }
                    }
                }
                let mut out = self.publish_all();
                out.extend(removed.iter().map(|p| publish(uri_of(p), Vec::new())));
                out
            }
            // `initialized`, `$/cancelRequest`, `$/setTrace` and unknown notifications: nothing to answer.
            _ => Vec::new(),
        }
    }

    /// Checks the workspace and publishes every file's diagnostics (an empty list clears a file's).
    fn publish_all(&mut self) -> Vec<Message> {
        self.workspace.analyze();
        let Some(analysis) = &self.workspace.analysis else { return Vec::new() };
        // The failures of the last runs stay shown at their spans until their file changes.
        let docs = &self.workspace.docs;
        self.runs.retain(|(path, _), run| workspace_text(docs, path).is_some_and(|text| *text == run.text));
        let mut out = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let mut list: Vec<lt::Diagnostic> =
                analysis.diagnostics[i].iter().map(|d| convert::diagnostic(d, docs)).collect();
            for ((path, _), run) in &self.runs {
                if *path == doc.path {
                    list.extend(run.failure.iter().map(|d| convert::diagnostic(d, docs)));
                }
            }
            out.push(publish(uri_of(&doc.path), list));
        }
        out
    }
}

/// The text of a workspace file.
fn workspace_text<'a>(docs: &'a [workspace::Doc], path: &std::path::Path) -> Option<&'a String> {
    docs.iter().find(|d| d.path == path).map(|d| &d.text)
}

/// The text `warden explain-code CODE` prints.
fn explanation_text(info: &crate::codes::CodeInfo) -> String {
    format!("{} ({}): {}\n\n{}", info.code, info.severity, info.summary, info.explanation)
}

fn publish(uri: lt::Url, diagnostics: Vec<lt::Diagnostic>) -> Message {
    let params = lt::PublishDiagnosticsParams { uri, diagnostics, version: None };
    Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), params))
}

/// A request's failure: its JSON-RPC error code and message.
struct Failure(ErrorCode, String);

/// A request's result and the notifications that follow it.
type Answer = Result<(Value, Vec<Message>), Failure>;

fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, Failure> {
    serde_json::from_value(params).map_err(|e| Failure(ErrorCode::InvalidParams, format!("invalid params: {e}")))
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
