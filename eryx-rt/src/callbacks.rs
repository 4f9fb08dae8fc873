//! Host callbacks: named async functions that the guest's Python code calls (as
//! `eryx.tools.NAME(...)`, or `await eryx.atools.NAME(...)`), and the limits that bound them.
//!
//! A callback takes and returns JSON values ([`serde_json::Value`]), because that is what both
//! sides can describe: the guest serialises Python arguments to JSON (a value JSON cannot hold
//! is a `TypeError` there, naming the argument) and the host hands the parsed value to the
//! callback. The typed form ([`Callback::typed`]) derives the parameter schema from a Rust type
//! with `schemars` and deserialises into it, so a host writes plain Rust functions.
//!
//! Every call runs under [`CallbackLimits`]: a per-call timeout, a number of calls per execute,
//! and a size cap on the arguments and on the result. A callback that fails, panics or runs out
//! of time becomes a Python exception in the guest; the host goes on.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The error a callback returns; the guest raises `eryx.CallbackError` with this message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallbackError {
    message: String,
}

impl CallbackError {
    /// An error whose message the guest sees.
    pub fn new(message: impl Into<String>) -> Self {
        CallbackError { message: message.into() }
    }

    /// The message the guest sees.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<String> for CallbackError {
    fn from(message: String) -> Self {
        CallbackError::new(message)
    }
}

impl From<&str> for CallbackError {
    fn from(message: &str) -> Self {
        CallbackError::new(message)
    }
}

/// What a callback's future resolves to.
pub type CallbackResult = Result<Value, CallbackError>;

type Handler = Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = CallbackResult> + Send>> + Send + Sync>;

/// A host function offered to the guest: a name, a description and a JSON Schema of its
/// arguments (both shown to Python by `eryx.tools.list()`), and an async handler.
#[derive(Clone)]
pub struct Callback {
    name: String,
    description: String,
    schema: Value,
    params: Vec<String>,
    handler: Handler,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback").field("name", &self.name).field("params", &self.params).finish_non_exhaustive()
    }
}

impl Callback {
    /// A callback over JSON values. `schema` describes the arguments object (a JSON Schema
    /// with `properties`); Python's positional arguments fill the properties listed in its
    /// `required` array, in that order, then the other properties in name order; keyword
    /// arguments name them. The handler receives the arguments as one JSON object.
    ///
    /// ```
    /// use eryx_rt::{Callback, CallbackError};
    /// use serde_json::json;
    ///
    /// let add = Callback::new(
    ///     "add",
    ///     "Adds two numbers",
    ///     json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    ///            "required": ["a", "b"]}),
    ///     |args| async move {
    ///         let number = |key: &str| args[key].as_f64().ok_or_else(|| CallbackError::new(format!("{key} must be a number")));
    ///         Ok(json!(number("a")? + number("b")?))
    ///     },
    /// );
    /// # let _ = add;
    /// ```
    pub fn new<F, Fut>(name: impl Into<String>, description: impl Into<String>, schema: Value, handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallbackResult> + Send + 'static,
    {
        let params = positional_order(&schema);
        Callback {
            name: name.into(),
            description: description.into(),
            schema,
            params,
            handler: Arc::new(move |args| Box::pin(handler(args))),
        }
    }

    /// A callback whose parameters are the fields of `P` (its JSON Schema comes from
    /// `schemars`) and whose result is any serialisable `R`. Arguments that do not
    /// deserialise into `P` fail the call with serde's message (the guest sees a
    /// `CallbackError` naming the field).
    ///
    /// ```
    /// use eryx_rt::{Callback, CallbackError};
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Weather {
    ///     /// The city to look up.
    ///     city: String,
    ///     days: Option<u32>,
    /// }
    ///
    /// let weather = Callback::typed("weather", "Forecast for a city", |w: Weather| async move {
    ///     Ok::<_, CallbackError>(format!("sunny in {} for {} days", w.city, w.days.unwrap_or(1)))
    /// });
    /// # let _ = weather;
    /// ```
    pub fn typed<P, R, F, Fut>(name: impl Into<String>, description: impl Into<String>, handler: F) -> Self
    where
        P: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
    {
        let name = name.into();
        let schema = schemars::schema_for!(P).to_value();
        let handler = Arc::new(handler);
        let callback_name = name.clone();
        Callback::new(name, description, schema, move |args| {
            let params = serde_json::from_value::<P>(args)
                .map_err(|e| CallbackError::new(format!("invalid arguments for {callback_name}: {e}")));
            let handler = handler.clone();
            async move {
                let result = handler(params?).await?;
                serde_json::to_value(result)
                    .map_err(|e| CallbackError::new(format!("cannot serialise the result: {e}")))
            }
        })
    }

    /// The name Python calls it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it does, as shown to Python.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of its arguments.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Parameter names in the order positional arguments fill them.
    pub fn params(&self) -> &[String] {
        &self.params
    }
}

/// `required` properties in their listed order, then the others in name order.
fn positional_order(schema: &Value) -> Vec<String> {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let mut order = required.clone();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let mut rest: Vec<&String> = properties.keys().filter(|k| !required.contains(k)).collect();
        rest.sort();
        order.extend(rest.into_iter().cloned());
    }
    order
}

/// Limits on the callbacks of one sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallbackLimits {
    call_timeout: Duration,
    max_calls: u64,
    max_args_bytes: usize,
    max_result_bytes: usize,
}

impl Default for CallbackLimits {
    /// 30 s per call, 10,000 calls per execute, 1 MiB of arguments and 16 MiB of result per call.
    fn default() -> Self {
        CallbackLimits {
            call_timeout: Duration::from_secs(30),
            max_calls: 10_000,
            max_args_bytes: 1 << 20,
            max_result_bytes: 16 << 20,
        }
    }
}

impl CallbackLimits {
    /// How long one call may take; then the guest gets `eryx.CallbackTimeout` and the
    /// callback's future is dropped.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How many calls (waited or started) one `execute` may make; further calls raise
    /// `eryx.CallbackLimitError`.
    pub fn max_calls(mut self, calls: u64) -> Self {
        self.max_calls = calls;
        self
    }

    /// The largest arguments object (JSON bytes) a call may pass.
    pub fn max_args_bytes(mut self, bytes: usize) -> Self {
        self.max_args_bytes = bytes;
        self
    }

    /// The largest result (JSON bytes) a callback may return to the guest.
    pub fn max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
        self
    }

    pub(crate) fn calls(&self) -> u64 {
        self.max_calls
    }
}

/// Why a call produced no result; mirrors the WIT `call-error` variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallFailure {
    Failed(String),
    Unknown(String),
    Timeout(String),
    Limit(String),
}

/// The callbacks of a sandbox, by name (listed in name order), with their limits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Registry {
    callbacks: BTreeMap<String, Callback>,
    pub(crate) limits: CallbackLimits,
}

impl Registry {
    pub(crate) fn add(&mut self, callback: Callback) {
        self.callbacks.insert(callback.name.clone(), callback);
    }

    pub(crate) fn set_limits(&mut self, limits: CallbackLimits) {
        self.limits = limits;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Callback> {
        self.callbacks.values()
    }

    /// The callback `name`, if `args` is within the size limit.
    pub(crate) fn admit(&self, name: &str, args: &str) -> Result<Callback, CallFailure> {
        let callback = self.callbacks.get(name).ok_or_else(|| {
            let offered: Vec<&str> = self.callbacks.keys().map(String::as_str).collect();
            CallFailure::Unknown(format!(
                "the host offers no callback named {name:?} (offered: {})",
                offered.join(", ")
            ))
        })?;
        if args.len() > self.limits.max_args_bytes {
            return Err(CallFailure::Limit(format!(
                "the arguments of {name} are {} bytes, over the limit of {} bytes (CallbackLimits::max_args_bytes)",
                args.len(),
                self.limits.max_args_bytes
            )));
        }
        Ok(callback.clone())
    }

    /// Runs `callback` on `args` (JSON text) under the limits and returns its result as JSON text.
    pub(crate) fn invoke(
        &self,
        callback: Callback,
        args: String,
    ) -> impl Future<Output = Result<String, CallFailure>> + Send + 'static {
        let limits = self.limits;
        async move {
            let name = &callback.name;
            let value: Value = serde_json::from_str(&args)
                .map_err(|e| CallFailure::Failed(format!("the arguments of {name} are not JSON: {e}")))?;
            // The handler may panic when called or while polled: both become a failed call.
            let future = match std::panic::catch_unwind(AssertUnwindSafe(|| (callback.handler)(value))) {
                Ok(future) => future,
                Err(panic) => return Err(panicked(name, panic)),
            };
            let outcome = tokio::time::timeout(limits.call_timeout, AssertUnwindSafe(future).catch_unwind()).await;
            let value = match outcome {
                Err(_) => {
                    return Err(CallFailure::Timeout(format!(
                        "callback {name} did not answer within {:?} (CallbackLimits::call_timeout)",
                        limits.call_timeout
                    )));
                }
                Ok(Err(panic)) => return Err(panicked(name, panic)),
                Ok(Ok(Err(error))) => return Err(CallFailure::Failed(error.message)),
                Ok(Ok(Ok(value))) => value,
            };
            let text = serde_json::to_string(&value)
                .map_err(|e| CallFailure::Failed(format!("cannot serialise the result of {name}: {e}")))?;
            if text.len() > limits.max_result_bytes {
                return Err(CallFailure::Limit(format!(
                    "the result of {name} is {} bytes, over the limit of {} bytes (CallbackLimits::max_result_bytes)",
                    text.len(),
                    limits.max_result_bytes
                )));
            }
            Ok(text)
        }
    }
}

fn panicked(name: &str, panic: Box<dyn std::any::Any + Send>) -> CallFailure {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into());
    tracing::warn!(callback = name, %message, "a host callback panicked");
    CallFailure::Failed(format!("callback {name} panicked: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_order_is_required_first_then_names() {
        let schema = json!({"properties": {"z": {}, "b": {}, "a": {}, "c": {}}, "required": ["c", "a"]});
        assert_eq!(positional_order(&schema), ["c", "a", "b", "z"]);
        assert!(positional_order(&json!({})).is_empty());
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Params {
        city: String,
        days: Option<u32>,
    }

    #[test]
    fn typed_callbacks_take_their_schema_from_the_type() {
        let callback = Callback::typed("weather", "w", |p: Params| async move { Ok::<_, CallbackError>(p.city) });
        assert_eq!(callback.params(), ["city", "days"]);
        assert_eq!(callback.schema()["properties"]["city"]["type"], "string");
    }
}
