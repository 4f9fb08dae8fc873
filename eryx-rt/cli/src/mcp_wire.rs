//! The MCP server's stdio, with a JSON-RPC parse error for every line that is not JSON.
//!
//! rmcp drops a line it cannot parse without a word (the other official MCP SDKs do the same:
//! there is no id to answer to). JSON-RPC 2.0 asks for a `-32700 Parse error` response with a
//! null id instead, and a client that sent a broken line learns more from that than from
//! silence. So the server reads stdin itself: every line that is JSON goes on to rmcp unchanged
//! (rmcp answers the JSON that is not a JSON-RPC message with -32600, and so on), every other
//! line is answered here; and since two writers must not interleave on stdout, rmcp's output
//! and these answers go out through one writer task, a whole line at a time.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes in flight between the filter and rmcp, each way.
const PIPE_BYTES: usize = 1 << 16;

/// The reader and writer rmcp serves on, and the task writing to stdout (await it after the
/// session, so every answer is written before the process exits).
pub(crate) struct FilteredStdio {
    pub(crate) reader: DuplexStream,
    pub(crate) writer: DuplexStream,
    pub(crate) output: JoinHandle<()>,
}

/// Stdin and stdout of this process, filtered as the module says.
pub(crate) fn stdio() -> FilteredStdio {
    filtered(tokio::io::stdin(), tokio::io::stdout())
}

/// `input` and `output` filtered as the module says (tests use in-memory pipes).
pub(crate) fn filtered<R, W>(input: R, output: W) -> FilteredStdio
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Pipes whose reader sees the end when the other side is dropped (rmcp drops its writer
    // when the session ends, without shutting it down).
    let (reader, to_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (from_rmcp, writer) = tokio::io::duplex(PIPE_BYTES);
    let (errors, error_lines) = mpsc::unbounded_channel();
    tokio::spawn(forward_input(input, to_rmcp, errors));
    let output = tokio::spawn(write_output(from_rmcp, error_lines, output));
    FilteredStdio { reader, writer, output }
}

/// Sends each JSON line on to rmcp and each other line's parse error to the writer; at the end
/// of the input, closes rmcp's input (ending the session).
async fn forward_input<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    input: R,
    mut to_rmcp: W,
    errors: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot read the MCP client's input");
                break;
            }
        }
        let message = line.trim_ascii();
        if message.is_empty() {
            continue;
        }
        match serde_json::from_slice::<serde::de::IgnoredAny>(message) {
            Ok(_) => {
                let sent = async {
                    to_rmcp.write_all(message).await?;
                    to_rmcp.write_all(b"\n").await?;
                    to_rmcp.flush().await
                };
                if sent.await.is_err() {
                    break; // rmcp has ended the session
                }
            }
            Err(error) => {
                tracing::warn!(%error, "a line from the MCP client is not JSON; answered with -32700");
                if errors.send(parse_error(&error)).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_rmcp.shutdown().await;
}

/// The JSON-RPC response to a line that is not JSON (one line, with its newline).
fn parse_error(error: &serde_json::Error) -> Vec<u8> {
    let response = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: the line is not JSON ({error})")},
    });
    let mut line = response.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// Writes rmcp's lines and the parse errors to `output`, whole lines, until rmcp's output ends.
async fn write_output<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    from_rmcp: R,
    mut error_lines: mpsc::UnboundedReceiver<Vec<u8>>,
    mut output: W,
) {
    let mut from_rmcp = BufReader::new(from_rmcp);
    let mut line = Vec::new();
    let mut errors_open = true;
    loop {
        line.clear();
        tokio::select! {
            read = from_rmcp.read_until(b'\n', &mut line) => match read {
                Ok(0) | Err(_) => {
                    // rmcp is done; answers to lines read before its end still go out.
                    while let Ok(error_line) = error_lines.try_recv() {
                        if output.write_all(&error_line).await.is_err() {
                            break;
                        }
                    }
                    let _ = output.flush().await;
                    break;
                }
                Ok(_) => {}
            },
            error_line = error_lines.recv(), if errors_open => match error_line {
                Some(error_line) => line = error_line,
                None => {
                    errors_open = false;
                    continue;
                }
            },
        }
        if output.write_all(&line).await.and(output.flush().await).is_err() {
            break; // the client has gone
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn json_lines_reach_rmcp_and_other_lines_get_a_parse_error() {
        let input: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1}\n{not json\n\n[1,2]\r\n\xff\xfe\n";
        let (client_out, mut client_in) = tokio::io::duplex(1 << 16);
        let mut stdio = filtered(input, client_out);
        let mut forwarded = String::new();
        stdio.reader.read_to_string(&mut forwarded).await.unwrap();
        assert_eq!(forwarded, "{\"jsonrpc\":\"2.0\",\"id\":1}\n[1,2]\n");
        stdio.writer.write_all(b"{\"answer\":1}\n").await.unwrap();
        drop(stdio.writer);
        stdio.output.await.unwrap();
        let mut written = String::new();
        client_in.read_to_string(&mut written).await.unwrap();
        let lines: Vec<serde_json::Value> = written.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let parse_errors = lines.iter().filter(|l| l["error"]["code"] == -32700 && l["id"].is_null()).count();
        assert_eq!(parse_errors, 2, "{written}");
        assert!(lines.contains(&serde_json::json!({"answer": 1})));
    }
}
