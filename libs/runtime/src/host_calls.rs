//! `_eryx_host`: the builtin module through which Python reaches the host's callbacks
//! (`eryx:sandbox/host-calls`), and the `eryx` module built on it (`eryx.py`).
//!
//! The builtin functions only move strings and integers across the interface; every
//! decision a user sees (argument mapping, JSON, exceptions, the asyncio loop) is made in
//! `eryx.py`, where it is easy to read. Failures come back as `(kind, text)` pairs rather than
//! exceptions, so no Python exception type has to be created from Rust.
//!
//! | function | returns |
//! |---|---|
//! | `callbacks()` | list of `(name, description, schema_json, params_tuple)` |
//! | `call(name, args_json)` | `(0, result_json)` or `(kind, message)` |
//! | `start(name, args_json)` | `(0, call_id)` running, `(5, result_json)` finished at once, or `(kind, message)` |
//! | `wait(timeout_ns)` (negative: no timeout) | list of `(call_id, kind, text)` |
//! | `cancel(call_id)` | `None` |
//! | `exiting(status)` | `None` (tells the host the status of the `os._exit` that follows) |
//!
//! Kinds: 0 success, 1 the callback failed, 2 unknown name, 3 per-call timeout, 4 limit, 5 finished.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use crate::eryx::sandbox::host_calls::{self as wit, CallError, Started};
use crate::ffi::{self, PyObject, PySsizeT};

const ERYX_PY: &str = include_str!("eryx.py");

/// Creates `_eryx_host` and `eryx` in `sys.modules`. Called once, right after Python starts.
pub(crate) fn install() -> Result<(), &'static str> {
    // SAFETY: single-threaded guest, the interpreter runs; every pointer is checked.
    unsafe {
        let module = ffi::PyImport_AddModule(c"_eryx_host".as_ptr());
        if module.is_null() {
            return Err("cannot create the _eryx_host module");
        }
        let dict = ffi::PyModule_GetDict(module);
        for def in METHODS.0.iter() {
            let function = ffi::PyCMethod_New(ptr::from_ref(def).cast_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            if function.is_null() || ffi::PyDict_SetItemString(dict, def.ml_name, function) != 0 {
                return Err("cannot add the _eryx_host functions");
            }
            ffi::Py_DecRef(function);
        }
        let eryx = ffi::PyImport_AddModule(c"eryx".as_ptr());
        if eryx.is_null() {
            return Err("cannot create the eryx module");
        }
        let namespace = ffi::PyModule_GetDict(eryx);
        let source = CString::new(ERYX_PY).expect("eryx.py has no NUL byte");
        let result = ffi::PyRun_String(source.as_ptr(), ffi::PY_FILE_INPUT, namespace, namespace);
        if result.is_null() {
            return Err("eryx.py failed");
        }
        ffi::Py_DecRef(result);
        Ok(())
    }
}

struct Methods([ffi::PyMethodDef; 6]);
// SAFETY: the table is immutable and the guest has one thread.
unsafe impl Sync for Methods {}

static METHODS: Methods = Methods([
    method(c"callbacks", py_callbacks),
    method(c"call", py_call),
    method(c"start", py_start),
    method(c"wait", py_wait),
    method(c"cancel", py_cancel),
    method(c"exiting", py_exiting),
]);

unsafe extern "C" fn py_exiting(_: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        if !arity(nargs, 1, c"exiting(status) takes 1 integer") {
            return ptr::null_mut();
        }
        let status = ffi::PyLong_AsLongLong(*args);
        if status == -1 && !ffi::PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        wit::exiting(status as i32);
        let none = ptr::addr_of_mut!(ffi::_Py_NoneStruct);
        ffi::Py_IncRef(none);
        none
    }
}

const fn method(name: &'static CStr, function: ffi::PyCFunctionFast) -> ffi::PyMethodDef {
    ffi::PyMethodDef { ml_name: name.as_ptr(), ml_meth: function, ml_flags: ffi::METH_FASTCALL, ml_doc: ptr::null() }
}

unsafe extern "C" fn py_callbacks(_: *mut PyObject, _: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        if !arity(nargs, 0, c"callbacks() takes no arguments") {
            return ptr::null_mut();
        }
        let infos = wit::list_callbacks();
        let list = ffi::PyList_New(infos.len() as PySsizeT);
        if list.is_null() {
            return ptr::null_mut();
        }
        for (index, info) in infos.iter().enumerate() {
            let params = ffi::PyTuple_New(info.params.len() as PySsizeT);
            if params.is_null() {
                ffi::Py_DecRef(list);
                return ptr::null_mut();
            }
            for (i, param) in info.params.iter().enumerate() {
                ffi::PyTuple_SetItem(params, i as PySsizeT, text(param));
            }
            let item = tuple(&[text(&info.name), text(&info.description), text(&info.schema), params]);
            ffi::PyList_SetItem(list, index as PySsizeT, item);
        }
        checked(list)
    }
}

unsafe extern "C" fn py_call(_: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        let Some((name, payload)) = name_and_payload(args, nargs, c"call(name, args_json) takes 2 strings") else {
            return ptr::null_mut();
        };
        match wit::call(&name, &payload) {
            Ok(result) => checked(tuple(&[ffi::PyLong_FromLongLong(0), text(&result)])),
            Err(error) => error_pair(error),
        }
    }
}

unsafe extern "C" fn py_start(_: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        let Some((name, payload)) = name_and_payload(args, nargs, c"start(name, args_json) takes 2 strings") else {
            return ptr::null_mut();
        };
        match wit::start(&name, &payload) {
            Ok(Started::Running(id)) => {
                checked(tuple(&[ffi::PyLong_FromLongLong(0), ffi::PyLong_FromUnsignedLongLong(id)]))
            }
            Ok(Started::Finished(result)) => checked(tuple(&[ffi::PyLong_FromLongLong(5), text(&result)])),
            Err(error) => error_pair(error),
        }
    }
}

unsafe extern "C" fn py_wait(_: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        if !arity(nargs, 1, c"wait(timeout_ns) takes 1 integer") {
            return ptr::null_mut();
        }
        let timeout = ffi::PyLong_AsLongLong(*args);
        if timeout == -1 && !ffi::PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        let completions = wit::wait(u64::try_from(timeout).ok());
        let list = ffi::PyList_New(completions.len() as PySsizeT);
        if list.is_null() {
            return ptr::null_mut();
        }
        for (index, completion) in completions.into_iter().enumerate() {
            let (kind, body) = match completion.outcome {
                Ok(result) => (0, result),
                Err(error) => split(error),
            };
            let item = tuple(&[ffi::PyLong_FromUnsignedLongLong(completion.id), ffi::PyLong_FromLongLong(kind), text(&body)]);
            ffi::PyList_SetItem(list, index as PySsizeT, item);
        }
        checked(list)
    }
}

unsafe extern "C" fn py_cancel(_: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        if !arity(nargs, 1, c"cancel(call_id) takes 1 integer") {
            return ptr::null_mut();
        }
        let id = ffi::PyLong_AsUnsignedLongLong(*args);
        if !ffi::PyErr_Occurred().is_null() {
            return ptr::null_mut();
        }
        wit::cancel(id);
        let none = ptr::addr_of_mut!(ffi::_Py_NoneStruct);
        ffi::Py_IncRef(none);
        none
    }
}

fn split(error: CallError) -> (i64, String) {
    match error {
        CallError::Failed(message) => (1, message),
        CallError::Unknown(message) => (2, message),
        CallError::Timeout(message) => (3, message),
        CallError::Limit(message) => (4, message),
    }
}

unsafe fn error_pair(error: CallError) -> *mut PyObject {
    let (kind, message) = split(error);
    unsafe { checked(tuple(&[ffi::PyLong_FromLongLong(kind), text(&message)])) }
}

/// Sets a TypeError and returns false unless exactly `expected` arguments were passed.
unsafe fn arity(nargs: PySsizeT, expected: PySsizeT, message: &CStr) -> bool {
    if nargs == expected {
        return true;
    }
    unsafe { ffi::PyErr_SetString(ffi::PyExc_TypeError, message.as_ptr()) };
    false
}

unsafe fn name_and_payload(args: *const *mut PyObject, nargs: PySsizeT, message: &CStr) -> Option<(String, String)> {
    unsafe {
        if !arity(nargs, 2, message) {
            return None;
        }
        let name = utf8(*args, message)?;
        let payload = utf8(*args.add(1), message)?;
        Some((name, payload))
    }
}

unsafe fn utf8(object: *mut PyObject, message: &CStr) -> Option<String> {
    unsafe {
        let mut size: PySsizeT = 0;
        let data = ffi::PyUnicode_AsUTF8AndSize(object, &mut size);
        if data.is_null() {
            ffi::PyErr_Clear();
            ffi::PyErr_SetString(ffi::PyExc_TypeError, message.as_ptr());
            return None;
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// A new `str` (NULL with an exception set when out of memory).
unsafe fn text(value: &str) -> *mut PyObject {
    unsafe { ffi::PyUnicode_FromStringAndSize(value.as_ptr().cast::<c_char>(), value.len() as PySsizeT) }
}

/// A new tuple that takes over `items`; NULL if any item or the tuple is NULL.
unsafe fn tuple(items: &[*mut PyObject]) -> *mut PyObject {
    unsafe {
        let result = ffi::PyTuple_New(items.len() as PySsizeT);
        let mut ok = !result.is_null();
        for (index, item) in items.iter().enumerate() {
            if item.is_null() {
                ok = false;
            } else if result.is_null() {
                ffi::Py_DecRef(*item);
            } else {
                ffi::PyTuple_SetItem(result, index as PySsizeT, *item);
            }
        }
        if !ok && !result.is_null() {
            ffi::Py_DecRef(result);
            return ptr::null_mut();
        }
        result
    }
}

/// `object`, or NULL if a Python error is pending (a failed allocation inside it).
unsafe fn checked(object: *mut PyObject) -> *mut PyObject {
    unsafe {
        if !ffi::PyErr_Occurred().is_null() {
            if !object.is_null() {
                ffi::Py_DecRef(object);
            }
            return ptr::null_mut();
        }
        object
    }
}
