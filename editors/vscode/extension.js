// Starts `warden lsp` for .rules files and runs the commands of its code lenses.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("warden").get("path", "warden");
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "warden",
    "warden",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "rules" }],
      // Files changed outside the editor join the workspace's check.
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.rules") },
    }
  );
  // The explanation of a diagnostic's code (its link is `warden-explain-code:CODE`).
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider("warden-explain-code", {
      provideTextDocumentContent: (uri) => client.sendRequest("warden/explainCode", { code: uri.path }),
    })
  );
  client.start();
  context.subscriptions.push(client);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
