//! `eryx mcp`: a Model Context Protocol server on stdio that gives an AI agent a Python sandbox.
//!
//! The server offers one tool, `run_python`: code in; stdout, stderr and the error out. An MCP
//! client talks to one server process over its stdin and stdout, so the process is the client's
//! session: it keeps one sandbox, and the globals, imports and files of one call are there in
//! the next (`--fresh` gives every call a new sandbox instead). A call that hits a limit stops
//! that sandbox; the next call gets a new one, and the tool result says the state was lost.
//!
//! Errors keep their layers apart: what the guest code did wrong (an exception, a limit) is a
//! tool result with `isError` set, which the agent reads and can act on; a request of the wrong
//! shape (an unknown tool, arguments without `code`, JSON that is not a JSON-RPC message) is a
//! JSON-RPC error from rmcp; neither ends the server. A line that is not JSON at all, which
//! rmcp would drop silently, gets a `-32700 Parse error` from the filter in front of rmcp
//! (`mcp_wire`), and the server keeps serving. Logs go to stderr only, since stdout carries
//! the protocol. A client's `notifications/cancelled` for a running call cancels its guest
//! (through the sandbox's `CancelHandle`; the sandbox is then replaced like after a limit).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use eryx_rt::{CancelHandle, ExecuteError, Failure, Output, Sandbox};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use tokio::sync::{Mutex, oneshot};

use crate::sandbox_args::SandboxArgs;

/// Serve a `run_python` tool over the Model Context Protocol (stdio), for AI agents.
#[derive(clap::Args, Debug)]
pub(crate) struct McpArgs {
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// A new sandbox for every call (nothing persists between calls). By default the session
    /// keeps one sandbox, so variables, imports and files persist from call to call.
    #[arg(long)]
    fresh: bool,
}

/// Runs the server until the client closes stdin.
pub(crate) fn serve(args: McpArgs) -> anyhow::Result<ExitCode> {
    // Fail early, before the client connects, on flags that cannot make a sandbox.
    args.sandbox.builder()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = PythonServer::new(args);
        let stdio = crate::mcp_wire::stdio();
        let running = server.serve((stdio.reader, stdio.writer)).await.context("cannot start the MCP session")?;
        let reason = running.waiting().await.context("the MCP session failed")?;
        tracing::info!(?reason, "MCP session ended");
        // Every answer is on stdout before the process exits.
        let _ = stdio.output.await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The arguments of `run_python`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct RunPython {
    /// Python 3.14 source code, run as a module body (like a script); `print` what you want back.
    code: String,
}

/// The session: its flags and its sandbox (created on the first call).
#[derive(Clone)]
struct PythonServer {
    args: Arc<McpArgs>,
    sandbox: Arc<Mutex<Option<Sandbox>>>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl PythonServer {
    fn new(args: McpArgs) -> Self {
        PythonServer { args: Arc::new(args), sandbox: Arc::default(), tool_router: Self::tool_router() }
    }

    #[tool(description = "Run Python 3.14 code in an isolated WebAssembly sandbox (no network, no host files) and \
                       return what it printed. Variables, imports and functions persist between calls of this \
                       session. Returns stdout and stderr; an exception comes back as an error with its traceback.")]
    async fn run_python(
        &self,
        Parameters(RunPython { code }): Parameters<RunPython>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        // One call at a time per session: the sandbox is one interpreter.
        let slot = self.sandbox.clone().lock_owned().await;
        let args = self.args.clone();
        let (handle_sender, handle) = oneshot::channel();
        let mut running = tokio::task::spawn_blocking(move || run_in_session(&args, slot, &code, handle_sender));
        // The client's `notifications/cancelled` for this request cancels the guest (the
        // sandbox is then stopped; the next call starts a new one).
        let cancel_on_request = async {
            if let Ok(handle) = handle.await {
                context.ct.cancelled().await;
                handle.cancel();
            }
        };
        let ran = tokio::select! {
            ran = &mut running => ran,
            () = cancel_on_request => running.await,
        };
        let ran =
            ran.map_err(|error| ErrorData::internal_error(format!("the sandbox thread failed: {error}"), None))?;
        Ok(match ran {
            Err(error) => CallToolResult::error(vec![ContentBlock::text(format!("{error:#}"))]),
            Ok(Ok(output)) => succeeded(&output),
            Ok(Err(error)) => failed(&error, !self.args.fresh),
        })
    }
}

/// Runs `code` in the session's sandbox (a new one when there is none, or always with
/// `--fresh`), and keeps the sandbox for the next call unless the run stopped it. The
/// sandbox's cancel handle goes to `cancel_handle` before the code runs.
fn run_in_session(
    args: &McpArgs,
    mut slot: tokio::sync::OwnedMutexGuard<Option<Sandbox>>,
    code: &str,
    cancel_handle: oneshot::Sender<CancelHandle>,
) -> anyhow::Result<Result<Output, ExecuteError>> {
    let mut sandbox = match slot.take() {
        Some(sandbox) if !args.fresh => sandbox,
        _ => args.sandbox.builder()?.build().context("cannot create the sandbox")?,
    };
    let _ = cancel_handle.send(sandbox.cancel_handle());
    let outcome = sandbox.execute(code);
    let stopped = matches!(&outcome, Err(error) if error.failure.stops_sandbox());
    if !stopped && !args.fresh {
        *slot = Some(sandbox);
    }
    Ok(outcome)
}

/// The tool result of a run that completed: the text for the agent, and the parts as
/// structured content for clients that read it.
fn succeeded(output: &Output) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(printed(&output.stdout, &output.stderr))]);
    result.structured_content = Some(serde_json::json!({
        "stdout": output.stdout,
        "stderr": output.stderr,
        "duration_ms": output.duration.as_secs_f64() * 1000.0,
        "truncated": output.truncated,
    }));
    result
}

/// The tool error of a run that failed: what it printed, then the traceback or the limit hit
/// (and, for a session that keeps its sandbox, that its state is gone).
fn failed(error: &ExecuteError, keeps_state: bool) -> CallToolResult {
    let mut text = printed(&error.output.stdout, &error.output.stderr);
    match &error.failure {
        Failure::Python(exception) => text.push_str(&exception.traceback),
        failure => {
            text.push_str(&format!("eryx: {failure}\n"));
            if failure.stops_sandbox() && keeps_state {
                text.push_str("eryx: the sandbox was stopped; the next call starts a new one (state is lost)\n");
            }
        }
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// stdout, then stderr under a marker when there is any.
fn printed(stdout: &str, stderr: &str) -> String {
    let mut text = stdout.to_string();
    if !stderr.is_empty() {
        text.push_str("--- stderr ---\n");
        text.push_str(stderr);
    }
    text
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PythonServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("eryx", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "run_python runs Python 3.14 in a sandbox: no network, no host files, limits on time and memory. \
                 State persists between calls of one session.",
            )
    }
}
