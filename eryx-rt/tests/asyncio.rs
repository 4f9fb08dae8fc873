//! asyncio inside the sandbox: the eryx event loop waits through the host, so timers are real
//! and started callbacks run concurrently.

use std::time::Duration;

use eryx_rt::{CallbackError, Failure, Sandbox, SandboxBuilder};
use serde_json::json;

fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .timeout(Duration::from_secs(20))
        .callback(
            "slow_echo",
            "Waits ms milliseconds on the host, then returns value",
            json!({"properties": {"value": {}, "ms": {"type": "integer"}}, "required": ["value", "ms"]}),
            |args| async move {
                tokio::time::sleep(Duration::from_millis(args["ms"].as_u64().unwrap_or(0))).await;
                Ok(args["value"].clone())
            },
        )
        .callback("echo", "Returns value at once", json!({"properties": {"value": {}}}), |args| async move {
            Ok(args["value"].clone())
        })
        .callback("refuse", "Fails at once", json!({}), |_| async { Err(CallbackError::new("no, at once")) })
}

fn run(sandbox: &mut Sandbox, code: &str) -> String {
    match sandbox.execute(code) {
        Ok(out) => out.stdout,
        Err(e) => panic!("{code:?} failed: {e}\n{}{}", e.output.stdout, e.output.stderr),
    }
}

#[test]
fn asyncio_run_with_real_timers() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import asyncio, time\n\
         async def main():\n    t = time.monotonic()\n    await asyncio.sleep(0.05)\n    return time.monotonic() - t\n\
         waited = asyncio.run(main())\nprint(0.05 <= waited < 0.5)",
    );
    assert_eq!(out, "True\n");
}

#[test]
fn gather_tasks_and_wait_for() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import asyncio\n\
         async def value(v, delay):\n    await asyncio.sleep(delay)\n    return v\n\
         async def main():\n\
         \x20   print(await asyncio.gather(value(1, 0.03), value(2, 0.01), value(3, 0)))\n\
         \x20   task = asyncio.create_task(value('task', 0.01))\n\
         \x20   print(await task)\n\
         \x20   try:\n        await asyncio.wait_for(value('late', 5), timeout=0.05)\n\
         \x20   except TimeoutError:\n        print('timed out')\n\
         \x20   print(await asyncio.wait_for(value('on time', 0.01), timeout=1))\n\
         \x20   async with asyncio.timeout(0.5):\n        await asyncio.sleep(0.01)\n\
         \x20   return type(asyncio.get_running_loop()).__name__\n\
         print(asyncio.run(main()))",
    );
    assert_eq!(out, "[1, 2, 3]\ntask\ntimed out\non time\nEventLoop\n");
}

#[test]
fn top_level_await_in_executed_code() {
    let mut sandbox = builder().build().unwrap();
    assert_eq!(run(&mut sandbox, "import asyncio\nawait asyncio.sleep(0.01)\nx = 5\nprint('awaited')"), "awaited\n");
    assert_eq!(run(&mut sandbox, "print(x)"), "5\n", "top-level await code writes module globals");
    let error = sandbox.execute("import asyncio\nawait asyncio.sleep(0)\n\n1/0").unwrap_err();
    let Failure::Python(exception) = &error.failure else { panic!("{error}") };
    assert_eq!(exception.type_name, "ZeroDivisionError");
    assert!(exception.traceback.contains("File \"<sandbox>\", line 4"), "{}", exception.traceback);
    assert!(!exception.traceback.contains("asyncio"), "runner frames leak: {}", exception.traceback);
}

/// The bar: 10 callbacks that each wait 100 ms on the host, gathered, in under 300 ms.
#[test]
fn gathered_callbacks_run_concurrently() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import asyncio, json, time\nfrom eryx import atools\n\
         await atools.slow_echo(0, 0)\n\
         t = time.monotonic()\n\
         values = await asyncio.gather(*(atools.slow_echo(i, 100) for i in range(10)))\n\
         elapsed = time.monotonic() - t\nprint(values)\nprint(elapsed)",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    let elapsed: f64 = lines.next().unwrap().parse().unwrap();
    assert!((0.1..0.3).contains(&elapsed), "10 concurrent 100 ms callbacks took {elapsed} s");
}

#[test]
fn a_started_call_can_be_cancelled_by_wait_for() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import asyncio\nfrom eryx import atools\n\
         try:\n    await asyncio.wait_for(atools.slow_echo('x', 5000), timeout=0.05)\nexcept TimeoutError:\n    print('gave up')\n\
         print(await atools.slow_echo('next', 1))",
    );
    assert_eq!(out, "gave up\nnext\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncio_through_the_async_api() {
    let mut sandbox = builder().build().unwrap();
    let out = sandbox
        .execute_async("import asyncio\nfrom eryx import atools\nprint(await asyncio.gather(atools.slow_echo('a', 20), atools.slow_echo({'b': 1}, 10)))")
        .await
        .unwrap();
    assert_eq!(out.stdout, "['a', {'b': 1}]\n");
}

/// A callback with nothing to wait for answers `start` at once (no trip through the loop);
/// mixed with waiting ones in a gather, every result lands in its place.
#[test]
fn callbacks_that_answer_at_once_mix_with_waiting_ones() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import asyncio\nfrom eryx import atools, CallbackError\n\
         print(await atools.echo('now'))\n\
         print(await asyncio.gather(atools.echo(1), atools.slow_echo(2, 20), atools.echo({'x': [3]})))\n\
         try:\n    await atools.refuse()\nexcept CallbackError as e:\n    print(e.message, e.callback)",
    );
    assert_eq!(out, "now\n[1, 2, {'x': [3]}]\nno, at once refuse\n");
    let code = "import asyncio\nfrom eryx import atools\nprint(asyncio.run(atools.echo('in asyncio.run')))";
    assert_eq!(run(&mut sandbox, code), "in asyncio.run\n");
}
