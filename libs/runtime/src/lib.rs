//! The eryx guest runtime: starts CPython 3.14 inside the component and runs code for the host.
//!
//! It is deliberately thin. The interpreter policy (which namespace code runs in, how an
//! exception is described, flushing) lives in `bootstrap.py`; this crate only starts the
//! interpreter with a fixed, host-independent configuration and moves strings across the
//! `eryx:sandbox/python` interface. Output is not handled here at all: the guest's stdout
//! and stderr are WASI streams that the host captures.

mod alloc_stats;
mod ffi;
mod host_calls;
mod program;
mod small_alloc;

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char};
use std::ptr;

use exports::eryx::sandbox::python::{Exception, Failure, Guest, Program};

wit_bindgen::generate!({
    path: "../wit",
    world: "sandbox",
});

/// Where the host mounts the read-only standard library inside the guest.
const STDLIB_DIR: &CStr = c"/usr/local/lib/python3.14";
/// Where the host mounts extracted wheels (pure Python files and extension stubs).
const SITE_PACKAGES_DIR: &CStr = c"/site-packages";
const BOOTSTRAP: &str = include_str!("bootstrap.py");
/// Serves imports from the bytecode packs the host compiled (run before bootstrap.py).
const BYTECODE: &str = include_str!("bytecode.py");

thread_local! {
    /// The bootstrap module's namespace once the interpreter runs (the guest is single-threaded).
    static BOOTSTRAP_NAMESPACE: Cell<*mut ffi::PyObject> = const { Cell::new(ptr::null_mut()) };
    /// Set at the end of `init`, which is where a snapshot is taken: the next call into the
    /// guest may run in a restored copy of this instance, which needs state of its own.
    static RESUME_PENDING: Cell<bool> = const { Cell::new(false) };
}

struct Runtime;

impl Guest for Runtime {
    fn init(modules: Vec<String>) -> Result<(), Exception> {
        let namespace = resumed_interpreter()?;
        let result = call(namespace, c"import_modules", &modules.join("\n"));
        prepare_for_snapshot();
        result.map_err(exception_of)
    }

    fn execute(code: String) -> Result<(), Failure> {
        let namespace = resumed_interpreter().map_err(Failure::Exception)?;
        call(namespace, c"execute", &code)
    }

    fn run(program: Program) -> Result<(), Failure> {
        let namespace = resumed_interpreter().map_err(Failure::Exception)?;
        program::run(namespace, program)
    }

    fn is_complete(source: String) -> bool {
        match resumed_interpreter() {
            Ok(namespace) => program::is_complete(namespace, &source),
            // Running it will show what is wrong.
            Err(_) => true,
        }
    }
}

/// The interpreter, after the fix-ups that a snapshot needs when this is its first use.
fn resumed_interpreter() -> Result<*mut ffi::PyObject, Exception> {
    let namespace = interpreter()?;
    if RESUME_PENDING.replace(false) {
        call(namespace, c"after_restore", "").map_err(exception_of)?;
    }
    Ok(namespace)
}

/// Leaves no WASI handle in linear memory, so that a snapshot taken now holds none.
///
/// Resource handles (preopened directories, stdio streams, open files) are indices into the
/// instance's handle table, which a snapshot does not keep: a restored instance that used the
/// indices would reach nothing, or another sandbox's resource. wasi-libc closes every
/// descriptor here (preopens and stdio included) and opens the preopens and stdio again, from
/// the running instance's own WASI context, on first use.
fn prepare_for_snapshot() {
    // SAFETY: single-threaded guest; `fflush(NULL)` flushes every C stream, and no descriptor
    // is in use across the reset (Python's own stdio objects only hold the numbers 0-2).
    unsafe {
        ffi::fflush(ptr::null_mut());
        ffi::__wasilibc_reset_preopens();
    }
    RESUME_PENDING.set(true);
}

export!(Runtime);

/// A failure where only an exception can be reported (an exit there is one, too).
fn exception_of(failure: Failure) -> Exception {
    match failure {
        Failure::Exception(exception) => exception,
        Failure::Exit(status) => self::failure("SystemExit", format!("exited with status {status}")),
    }
}

fn failure(type_name: &str, message: impl Into<String>) -> Exception {
    Exception { type_name: type_name.into(), message: message.into(), traceback: String::new() }
}

/// Starts the interpreter on first use and returns the bootstrap namespace.
fn interpreter() -> Result<*mut ffi::PyObject, Exception> {
    let existing = BOOTSTRAP_NAMESPACE.get();
    if !existing.is_null() {
        return Ok(existing);
    }
    // SAFETY: single-threaded guest; every pointer passed below is valid for the call.
    unsafe {
        start_interpreter()?;
        run_module(c"_eryx_bytecode", BYTECODE, "bytecode.py failed")?;
        host_calls::install().map_err(python_error)?;
        alloc_stats::install().map_err(python_error)?;
        let namespace = run_module(c"_eryx_bootstrap", BOOTSTRAP, "bootstrap.py failed")?;
        BOOTSTRAP_NAMESPACE.set(namespace);
        Ok(namespace)
    }
}

/// Runs `source` as the module `name` and returns the module's namespace.
unsafe fn run_module(name: &CStr, source: &str, what: &str) -> Result<*mut ffi::PyObject, Exception> {
    unsafe {
        let module = ffi::PyImport_AddModule(name.as_ptr());
        if module.is_null() {
            return Err(python_error(what));
        }
        let namespace = ffi::PyModule_GetDict(module);
        let source = CString::new(source).expect("the runtime's Python sources have no NUL byte");
        let result = ffi::PyRun_String(source.as_ptr(), ffi::PY_FILE_INPUT, namespace, namespace);
        if result.is_null() {
            return Err(python_error(what));
        }
        ffi::Py_DecRef(result);
        Ok(namespace)
    }
}

/// Configures CPython through PEP 741 so that nothing of the guest environment changes it.
unsafe fn start_interpreter() -> Result<(), Exception> {
    unsafe {
        // Before Python allocates its first object (the C API allows replacing allocators only then).
        small_alloc::install();
        let config = ffi::PyInitConfig_Create();
        if config.is_null() {
            return Err(failure("RuntimeError", "PyInitConfig_Create failed (out of memory)"));
        }
        let paths = [STDLIB_DIR.as_ptr(), SITE_PACKAGES_DIR.as_ptr()];
        let ints: [(&CStr, i64); 10] = [
            (c"isolated", 1),
            (c"use_environment", 0),
            (c"install_signal_handlers", 0),
            (c"write_bytecode", 0),
            (c"user_site_directory", 0),
            (c"site_import", 1),
            (c"parse_argv", 0),
            (c"safe_path", 1),
            // Output order must match program order: `print` and `os.write(1, ...)` interleave.
            (c"buffered_stdio", 0),
            // The guest has no locale: text I/O is UTF-8 (PEP 540), as users expect.
            (c"utf8_mode", 1),
        ];
        let mut ok = ffi::PyInitConfig_SetStr(config, c"home".as_ptr(), c"/usr/local".as_ptr()) == 0
            && ffi::PyInitConfig_SetStrList(config, c"module_search_paths".as_ptr(), paths.len(), paths.as_ptr()) == 0;
        for (name, value) in ints {
            ok = ok && ffi::PyInitConfig_SetInt(config, name.as_ptr(), value) == 0;
        }
        ok = ok && ffi::Py_InitializeFromInitConfig(config) == 0;
        let result = if ok {
            Ok(())
        } else {
            let mut message: *const c_char = ptr::null();
            ffi::PyInitConfig_GetError(config, &mut message);
            let text = if message.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            };
            Err(failure("RuntimeError", format!("Python failed to start: {text}")))
        };
        ffi::PyInitConfig_Free(config);
        result
    }
}

/// Calls `namespace[function](argument)` (see [`outcome`] for what it returns).
fn call(namespace: *mut ffi::PyObject, function: &CStr, argument: &str) -> Result<(), Failure> {
    // SAFETY: the interpreter runs and the namespace is the live bootstrap module dict.
    unsafe {
        let callable = ffi::PyDict_GetItemString(namespace, function.as_ptr());
        if callable.is_null() {
            return Err(Failure::Exception(failure("RuntimeError", "the bootstrap module lost its functions")));
        }
        let text = ffi::PyUnicode_FromStringAndSize(argument.as_ptr().cast(), argument.len() as isize);
        if text.is_null() {
            return Err(Failure::Exception(python_error("cannot pass the code to Python")));
        }
        let result = ffi::PyObject_CallOneArg(callable, text);
        ffi::Py_DecRef(text);
        if result.is_null() {
            return Err(Failure::Exception(python_error("the bootstrap function failed")));
        }
        let outcome = outcome(result);
        ffi::Py_DecRef(result);
        outcome
    }
}

/// Reads what a bootstrap function returned: None on success, an int for `SystemExit` (the
/// exit status), or a (type, message, traceback) tuple for an exception.
///
/// # Safety
/// The interpreter runs and `result` is a live object.
unsafe fn outcome(result: *mut ffi::PyObject) -> Result<(), Failure> {
    unsafe {
        if result == ptr::addr_of_mut!(ffi::_Py_NoneStruct) {
            return Ok(());
        }
        if ffi::PyObject_IsInstance(result, ptr::addr_of_mut!(ffi::PyLong_Type)) == 1 {
            // bootstrap.py wraps the status to 32 bits, so this conversion is exact.
            return Err(Failure::Exit(ffi::PyLong_AsLongLong(result) as i32));
        }
        Err(Failure::Exception(Exception {
            type_name: tuple_str(result, 0),
            message: tuple_str(result, 1),
            traceback: tuple_str(result, 2),
        }))
    }
}

unsafe fn tuple_str(tuple: *mut ffi::PyObject, index: isize) -> String {
    unsafe {
        let item = ffi::PyTuple_GetItem(tuple, index);
        if item.is_null() {
            return String::new();
        }
        let mut size: ffi::PySsizeT = 0;
        let data = ffi::PyUnicode_AsUTF8AndSize(item, &mut size);
        if data.is_null() {
            ffi::PyErr_Clear();
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(data.cast(), size as usize)).into_owned()
    }
}

/// Reports a failure of the runtime's own Python calls; the details go to the guest's stderr.
///
/// Out of memory, the details cannot be printed (printing needs memory, and a memory limit
/// makes that fail too), so the error is reported as the `MemoryError` it is.
pub(crate) fn python_error(context: &str) -> Exception {
    // SAFETY: the interpreter runs; the error indicator is read and cleared, nothing else.
    unsafe {
        if ffi::PyErr_ExceptionMatches(ffi::PyExc_MemoryError) != 0 {
            ffi::PyErr_Clear();
            return failure("MemoryError", format!("out of memory (eryx runtime: {context})"));
        }
        ffi::PyErr_Print();
    }
    failure("RuntimeError", format!("eryx runtime: {context} (details on stderr)"))
}
