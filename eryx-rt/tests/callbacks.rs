//! Host callbacks called from Python, through the sync and the async API, and the bad inputs
//! of issue 10: each gets a clean answer and the host goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eryx_rt::{CallbackError, CallbackLimits, Failure, Sandbox, SandboxBuilder};
use serde_json::{Value, json};

fn add_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}, "scale": {"type": "number"}},
        "required": ["a", "b"]
    })
}

fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .timeout(Duration::from_secs(20))
        .callback("add", "Adds a and b, times scale", add_schema(), |args| async move {
            let number = |key: &str| args.get(key).and_then(Value::as_f64);
            let (a, b) = (number("a").ok_or("a is missing")?, number("b").ok_or("b is missing")?);
            Ok(json!((a + b) * number("scale").unwrap_or(1.0)))
        })
        .callback("echo", "Returns its arguments", json!({"properties": {"value": {}}}), |args| async move { Ok(args) })
        .callback("fail", "Always fails", json!({}), |_| async { Err(CallbackError::new("the disk is on fire")) })
        .callback(
            "sleep",
            "Waits ms milliseconds",
            json!({"properties": {"ms": {}}, "required": ["ms"]}),
            |args| async move {
                tokio::time::sleep(Duration::from_millis(args["ms"].as_u64().unwrap_or(0))).await;
                Ok(json!("done"))
            },
        )
}

fn run(sandbox: &mut Sandbox, code: &str) -> String {
    match sandbox.execute(code) {
        Ok(out) => out.stdout,
        Err(e) => panic!("{code:?} failed: {e}\n{}{}", e.output.stdout, e.output.stderr),
    }
}

fn python_error(sandbox: &mut Sandbox, code: &str) -> eryx_rt::PythonException {
    match sandbox.execute(code) {
        Err(e) => match e.failure {
            Failure::Python(exception) => *exception,
            other => panic!("{code:?}: not a Python exception: {other}"),
        },
        Ok(out) => panic!("{code:?} succeeded: {}", out.stdout),
    }
}

#[test]
fn python_calls_callbacks_with_positional_and_keyword_arguments() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "from eryx import tools\n\
         print(tools.add(1, 2), tools.add(1, b=2, scale=10), tools.add(a=0.5, b=0.25))\n\
         print(tools.echo({'nested': [1, 'two', None, True]}))\n\
         print(tools.call('add', 2, 3))",
    );
    assert_eq!(out, "3.0 30.0 0.75\n{'value': {'nested': [1, 'two', None, True]}}\n5.0\n");
}

#[test]
fn python_lists_callbacks_with_descriptions_and_schemas() {
    let mut sandbox = builder().build().unwrap();
    let out = run(
        &mut sandbox,
        "import eryx\nfor t in eryx.tools.list(): print(t['name'], '|', t['description'], '|', sorted(t['schema'].get('properties', {})))\n\
         print(sorted(n for n in dir(eryx.tools) if not n.startswith('_')))",
    );
    assert_eq!(
        out,
        "add | Adds a and b, times scale | ['a', 'b', 'scale']\necho | Returns its arguments | ['value']\n\
         fail | Always fails | []\nsleep | Waits ms milliseconds | ['ms']\n\
         ['add', 'call', 'echo', 'fail', 'list', 'sleep']\n"
    );
}

#[test]
fn host_errors_raise_callback_error_with_the_message() {
    let mut sandbox = builder().build().unwrap();
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.fail()");
    assert_eq!(error.type_name, "CallbackError");
    assert_eq!(error.message, "the disk is on fire");
    let out = run(
        &mut sandbox,
        "import eryx\ntry:\n    eryx.tools.fail()\nexcept eryx.CallbackError as e:\n    print('caught', e.callback, e.message)",
    );
    assert_eq!(out, "caught fail the disk is on fire\n");
}

#[test]
fn a_panicking_callback_is_a_python_exception_and_the_host_lives() {
    let mut sandbox = builder()
        .callback("boom", "panics", json!({}), |_| async { panic!("callback bug") })
        .callback(
            "boom_early",
            "panics before its future",
            json!({}),
            |_| -> std::future::Ready<eryx_rt::CallbackResult> { panic!("early bug") },
        )
        .build()
        .unwrap();
    for name in ["boom", "boom_early"] {
        let error = python_error(&mut sandbox, &format!("from eryx import tools\ntools.{name}()"));
        assert_eq!(error.type_name, "CallbackError");
        assert!(error.message.contains("panicked") && error.message.contains("bug"), "{}", error.message);
    }
    let error = python_error(&mut sandbox, "import asyncio\nfrom eryx import atools\nawait atools.boom()");
    assert!(error.message.contains("panicked"), "{}", error.message);
    assert_eq!(run(&mut sandbox, "from eryx import tools; print(tools.add(1, 1))"), "2.0\n");
}

#[test]
fn a_callback_that_never_returns_hits_its_timeout() {
    let limits = CallbackLimits::default().call_timeout(Duration::from_millis(200));
    let mut sandbox = builder()
        .callback("hang", "never answers", json!({}), |_| std::future::pending())
        .callback_limits(limits)
        .build()
        .unwrap();
    let started = Instant::now();
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.hang()");
    assert_eq!(error.type_name, "CallbackTimeout");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let out = run(
        &mut sandbox,
        "import eryx\ntry:\n    await eryx.atools.hang()\nexcept TimeoutError as e:\n    print(type(e).__name__, isinstance(e, eryx.CallbackError))",
    );
    assert_eq!(out, "CallbackTimeout True\n");
}

#[test]
fn arguments_that_are_not_json_raise_type_error_naming_the_argument() {
    let mut sandbox = builder().build().unwrap();
    for (call, argument) in [
        ("tools.add(1, object())", "'b'"),
        ("tools.echo(value={1, 2})", "'value'"),
        ("tools.add(float('nan'), 1)", "'a'"),
    ] {
        let error = python_error(&mut sandbox, &format!("from eryx import tools\n{call}"));
        assert_eq!(error.type_name, "TypeError", "{call}");
        assert!(error.message.contains(argument), "{call}: {}", error.message);
    }
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.add(1, 2, 3, 4)");
    assert_eq!(error.type_name, "TypeError");
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.add(1, a=2)");
    assert!(error.message.contains("multiple values"), "{}", error.message);
}

#[test]
fn an_unknown_callback_name_is_a_clear_error() {
    let mut sandbox = builder().build().unwrap();
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.nope()");
    assert_eq!(error.type_name, "UnknownCallbackError");
    assert!(error.message.contains("'nope'") && error.message.contains("add, echo, fail, sleep"), "{}", error.message);
    let out = run(
        &mut sandbox,
        "from eryx import tools\ntry:\n    tools.call('not here')\nexcept AttributeError as e:\n    print('AttributeError')\n\
         print(hasattr(tools, 'missing'))",
    );
    assert_eq!(out, "AttributeError\nFalse\n");
}

#[test]
fn a_million_calls_stop_at_the_call_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut sandbox = builder()
        .callback("count", "counts", json!({}), move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Ok(Value::Null) }
        })
        .callback_limits(CallbackLimits::default().max_calls(1000))
        .build()
        .unwrap();
    let error = python_error(&mut sandbox, "from eryx import tools\nfor i in range(1_000_000):\n    tools.count()");
    assert_eq!(error.type_name, "CallbackLimitError");
    assert!(error.message.contains("1000"), "{}", error.message);
    assert_eq!(calls.load(Ordering::Relaxed), 1000);
    // The count is per execute.
    assert_eq!(run(&mut sandbox, "from eryx import tools\nprint(tools.count())"), "None\n");
}

#[test]
fn payloads_over_the_limit_are_refused_both_ways() {
    let limits = CallbackLimits::default().max_args_bytes(1000).max_result_bytes(1000);
    let mut sandbox = builder()
        .callback("big", "returns n bytes", json!({"properties": {"n": {}}, "required": ["n"]}), |args| async move {
            Ok(json!("x".repeat(args["n"].as_u64().unwrap_or(0) as usize)))
        })
        .callback_limits(limits)
        .build()
        .unwrap();
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.echo('y' * 2000)");
    assert_eq!(error.type_name, "CallbackLimitError");
    assert!(error.message.contains("arguments of echo"), "{}", error.message);
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.big(5000)");
    assert_eq!(error.type_name, "CallbackLimitError");
    assert!(error.message.contains("result of big"), "{}", error.message);
    assert_eq!(run(&mut sandbox, "from eryx import tools\nprint(len(tools.big(100)))"), "100\n");
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Weather {
    /// The city to look up.
    city: String,
    days: Option<u32>,
}

#[test]
fn typed_callbacks_get_their_parameters_from_a_rust_type() {
    let mut sandbox = Sandbox::builder()
        .typed_callback("weather", "Forecast", |w: Weather| async move {
            Ok::<_, CallbackError>(json!({"city": w.city, "days": w.days.unwrap_or(1)}))
        })
        .build()
        .unwrap();
    let out = run(
        &mut sandbox,
        "from eryx import tools\nprint(tools.weather('Oslo'), tools.weather('Rome', 3), tools.weather(city='Lima', days=2))\n\
         s = tools.list()[0]['schema']\nprint(s['required'], s['properties']['city']['description'])",
    );
    assert_eq!(
        out,
        "{'city': 'Oslo', 'days': 1} {'city': 'Rome', 'days': 3} {'city': 'Lima', 'days': 2}\n['city'] The city to look up.\n"
    );
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.weather(days=2)");
    assert_eq!(error.type_name, "CallbackError");
    assert!(error.message.contains("city"), "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_through_the_async_api() {
    let mut sandbox = builder().build().unwrap();
    let out = sandbox.execute_async("from eryx import tools\nprint(tools.sleep(50), tools.add(2, 2))").await.unwrap();
    assert_eq!(out.stdout, "done 4.0\n");
}

#[test]
fn a_sandbox_without_callbacks_says_so() {
    let mut sandbox = Sandbox::builder().build().unwrap();
    assert_eq!(run(&mut sandbox, "import eryx; print(eryx.tools.list())"), "[]\n");
    let error = python_error(&mut sandbox, "from eryx import tools\ntools.anything()");
    assert!(error.message.contains("offered: none"), "{}", error.message);
}

#[test]
fn the_default_snapshot_holds_json_so_a_first_call_does_not_import_it() {
    let probe = "import sys; print('json' in sys.modules)";
    assert_eq!(run(&mut builder().build().unwrap(), probe), "True\n");
    // Without a snapshot Python starts in the sandbox, and json is imported on first use.
    let mut plain = builder().preinit(false).build().unwrap();
    assert_eq!(run(&mut plain, probe), "False\n");
    assert_eq!(run(&mut plain, "from eryx import tools; print(tools.add(1, 2))"), "3.0\n");
}
