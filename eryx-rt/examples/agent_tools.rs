//! An agent-style host: it offers two tools to sandboxed Python, one async (a slow lookup) and
//! one that fails, and runs model-written code that calls them concurrently with asyncio.
//!
//! `cargo run --release -p eryx-rt --example agent_tools`

use std::time::Duration;

use eryx_rt::{CallbackError, CallbackLimits, Failure, Sandbox};

/// Parameters of `lookup`, with a schema derived for Python (`eryx.tools.list()`).
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Lookup {
    /// The term to look up.
    term: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(10))
        // An async tool: waits on "the network" (a timer here), then answers.
        .typed_callback("lookup", "Looks a term up in the knowledge base", |args: Lookup| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, CallbackError>(
                serde_json::json!({"term": args.term, "definition": format!("{} is a word", args.term)}),
            )
        })
        // A tool that fails: Python sees eryx.CallbackError with this message.
        .callback("charge_card", "Charges a card (always declined here)", serde_json::json!({}), |_| async {
            Err(CallbackError::new("card declined"))
        })
        .callback_limits(CallbackLimits::default().call_timeout(Duration::from_secs(2)).max_calls(100))
        .output_handler(|_, bytes| print!("{}", String::from_utf8_lossy(bytes)))
        .build()?;

    // What an agent's model might write: list the tools, call three lookups and the failing
    // tool at once, and report what failed.
    let code = r#"
import asyncio, time
import eryx
from eryx import atools

print("tools:", [t["name"] for t in eryx.tools.list()])
started = time.monotonic()
results = await asyncio.gather(
    atools.lookup("wasm"), atools.lookup(term="python"), atools.lookup("tokio"),
    atools.charge_card(),
    return_exceptions=True,
)
for result in results:
    if isinstance(result, eryx.CallbackError):
        print(f"  {result.callback} failed: {result.message}")
    else:
        print("  ", result["definition"])
print(f"4 concurrent calls took {time.monotonic() - started:.3f} s")
"#;
    match sandbox.execute_async(code).await {
        Ok(output) => eprintln!("(done in {:?})", output.duration),
        Err(error) => match error.failure {
            Failure::Python(exception) => eprintln!("Python raised:\n{}", exception.traceback),
            other => eprintln!("the sandbox failed: {other}"),
        },
    }
    Ok(())
}
