//! Programs as `python` runs them (files, `-c`, `-m`, REPL entries) and the REPL's "is this
//! entry complete?" question, handed on to `bootstrap.py`'s `run` and `is_complete`: the
//! policy lives in Python, this module only moves the values across.

use std::ffi::CStr;
use std::ptr;

use crate::exports::eryx::sandbox::python::{Failure, Mode, Program};
use crate::{ffi, outcome, python_error};

/// Runs `program` through `bootstrap.run(mode, source, filename, argv)`.
pub(crate) fn run(namespace: *mut ffi::PyObject, program: Program) -> Result<(), Failure> {
    let mode: &str = match program.mode {
        Mode::File => "file",
        Mode::Statement => "statement",
        Mode::Module => "module",
    };
    // SAFETY: the interpreter runs; every object made here is owned and released once.
    unsafe {
        let argv = match &program.argv {
            Some(argv) => string_list(argv),
            None => none(),
        };
        let items = [
            unicode(mode),
            ffi::PyBytes_FromStringAndSize(program.source.as_ptr().cast(), program.source.len() as isize),
            unicode(&program.filename),
            argv,
        ];
        let arguments = tuple(items);
        if arguments.is_null() {
            return Err(Failure::Exception(python_error("cannot pass the program to Python")));
        }
        let function = ffi::PyDict_GetItemString(namespace, c"run".as_ptr());
        let result = if function.is_null() { ptr::null_mut() } else { ffi::PyObject_CallObject(function, arguments) };
        ffi::Py_DecRef(arguments);
        if result.is_null() {
            return Err(Failure::Exception(python_error("the bootstrap function `run` failed")));
        }
        let outcome = outcome(result);
        ffi::Py_DecRef(result);
        outcome
    }
}

/// `bootstrap.is_complete(source)`; true when Python cannot even be asked (running shows why).
pub(crate) fn is_complete(namespace: *mut ffi::PyObject, source: &str) -> bool {
    call_bool(namespace, c"is_complete", source).unwrap_or(true)
}

fn call_bool(namespace: *mut ffi::PyObject, function: &CStr, argument: &str) -> Option<bool> {
    // SAFETY: the interpreter runs; the objects made here are released once.
    unsafe {
        let function = ffi::PyDict_GetItemString(namespace, function.as_ptr());
        let text = unicode(argument);
        if function.is_null() || text.is_null() {
            ffi::Py_DecRef(text);
            ffi::PyErr_Clear();
            return None;
        }
        let result = ffi::PyObject_CallOneArg(function, text);
        ffi::Py_DecRef(text);
        if result.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let truth = ffi::PyObject_IsTrue(result);
        ffi::Py_DecRef(result);
        if truth < 0 {
            ffi::PyErr_Clear();
            return None;
        }
        Some(truth == 1)
    }
}

/// A new str, or null.
unsafe fn unicode(text: &str) -> *mut ffi::PyObject {
    unsafe { ffi::PyUnicode_FromStringAndSize(text.as_ptr().cast(), text.len() as isize) }
}

/// A new reference to None.
unsafe fn none() -> *mut ffi::PyObject {
    let none = ptr::addr_of_mut!(ffi::_Py_NoneStruct);
    unsafe { ffi::Py_IncRef(none) };
    none
}

/// A new list of str, or null.
unsafe fn string_list(items: &[String]) -> *mut ffi::PyObject {
    unsafe {
        let list = ffi::PyList_New(items.len() as ffi::PySsizeT);
        if list.is_null() {
            return list;
        }
        for (index, item) in items.iter().enumerate() {
            let text = unicode(item);
            // PyList_SetItem steals `text`, even when it fails.
            if text.is_null() || ffi::PyList_SetItem(list, index as ffi::PySsizeT, text) != 0 {
                ffi::Py_DecRef(list);
                return ptr::null_mut();
            }
        }
        list
    }
}

/// A new tuple owning `items`, or null (with every item released) when one of them is null.
unsafe fn tuple<const N: usize>(items: [*mut ffi::PyObject; N]) -> *mut ffi::PyObject {
    unsafe {
        let tuple = if items.iter().any(|item| item.is_null()) {
            ptr::null_mut()
        } else {
            ffi::PyTuple_New(N as ffi::PySsizeT)
        };
        if tuple.is_null() {
            for item in items {
                if !item.is_null() {
                    ffi::Py_DecRef(item);
                }
            }
            return tuple;
        }
        for (index, item) in items.into_iter().enumerate() {
            // Steals the reference.
            ffi::PyTuple_SetItem(tuple, index as ffi::PySsizeT, item);
        }
        tuple
    }
}
