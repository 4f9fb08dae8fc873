//! The few CPython 3.14 C-API (and wasi-libc) functions the runtime needs, declared by hand.
//!
//! They are resolved against `libpython3.14.so` when the component is linked. Only opaque
//! pointers cross this boundary (PEP 741's `PyInitConfig` included), so no struct layout
//! of CPython is assumed here.

use std::ffi::{c_char, c_int, c_void};

#[repr(C)]
pub struct PyObject {
    _private: [u8; 0],
}

#[repr(C)]
pub struct PyInitConfig {
    _private: [u8; 0],
}

pub type PySsizeT = isize;

/// `Py_file_input` from CPython's `compile.h`.
pub const PY_FILE_INPUT: c_int = 257;

unsafe extern "C" {
    pub fn PyInitConfig_Create() -> *mut PyInitConfig;
    pub fn PyInitConfig_Free(config: *mut PyInitConfig);
    pub fn PyInitConfig_GetError(config: *mut PyInitConfig, message: *mut *const c_char) -> c_int;
    pub fn PyInitConfig_SetInt(config: *mut PyInitConfig, name: *const c_char, value: i64) -> c_int;
    pub fn PyInitConfig_SetStr(
        config: *mut PyInitConfig,
        name: *const c_char,
        value: *const c_char,
    ) -> c_int;
    pub fn PyInitConfig_SetStrList(
        config: *mut PyInitConfig,
        name: *const c_char,
        length: usize,
        items: *const *const c_char,
    ) -> c_int;
    pub fn Py_InitializeFromInitConfig(config: *mut PyInitConfig) -> c_int;

    pub fn PyImport_AddModule(name: *const c_char) -> *mut PyObject;
    pub fn PyModule_GetDict(module: *mut PyObject) -> *mut PyObject;
    pub fn PyRun_String(
        code: *const c_char,
        start: c_int,
        globals: *mut PyObject,
        locals: *mut PyObject,
    ) -> *mut PyObject;
    pub fn PyDict_GetItemString(dict: *mut PyObject, key: *const c_char) -> *mut PyObject;
    pub fn PyObject_CallOneArg(callable: *mut PyObject, arg: *mut PyObject) -> *mut PyObject;
    pub fn PyUnicode_FromStringAndSize(data: *const c_char, size: PySsizeT) -> *mut PyObject;
    pub fn PyUnicode_AsUTF8AndSize(text: *mut PyObject, size: *mut PySsizeT) -> *const c_char;
    pub fn PyTuple_GetItem(tuple: *mut PyObject, index: PySsizeT) -> *mut PyObject;
    pub fn PyErr_Print();
    pub fn PyErr_Clear();
    pub fn Py_DecRef(object: *mut PyObject);
    pub static mut _Py_NoneStruct: PyObject;

    // wasi-libc.
    pub fn fflush(stream: *mut c_void) -> c_int;
    /// Closes every descriptor (preopens and stdio too); libc reopens them lazily.
    pub fn __wasilibc_reset_preopens();
}
