//! The few CPython 3.14 C-API (and wasi-libc) functions the runtime needs, declared by hand.
//!
//! They are resolved against `libpython3.14.so` when the component is linked. Only opaque
//! pointers cross this boundary (PEP 741's `PyInitConfig` included), so no struct layout
//! of CPython is assumed here, except two that the C API documents field by field
//! (`PyMethodDef`, `PyMemAllocatorEx`).

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

/// `PyCFunctionFast`: a builtin taking `METH_FASTCALL` arguments.
pub type PyCFunctionFast =
    unsafe extern "C" fn(module: *mut PyObject, args: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject;

/// `PyMethodDef` (part of the stable ABI, so its layout is fixed).
#[repr(C)]
pub struct PyMethodDef {
    pub ml_name: *const c_char,
    pub ml_meth: PyCFunctionFast,
    pub ml_flags: c_int,
    pub ml_doc: *const c_char,
}

/// `METH_FASTCALL` from CPython's `methodobject.h`.
pub const METH_FASTCALL: c_int = 0x0080;

/// `PyMemAllocatorEx`: one memory domain's allocator (documented layout).
#[repr(C)]
pub struct PyMemAllocatorEx {
    pub ctx: *mut c_void,
    pub malloc: Option<unsafe extern "C" fn(ctx: *mut c_void, size: usize) -> *mut c_void>,
    pub calloc: Option<unsafe extern "C" fn(ctx: *mut c_void, count: usize, size: usize) -> *mut c_void>,
    pub realloc: Option<unsafe extern "C" fn(ctx: *mut c_void, block: *mut c_void, size: usize) -> *mut c_void>,
    pub free: Option<unsafe extern "C" fn(ctx: *mut c_void, block: *mut c_void)>,
}

/// `PyMemAllocatorDomain` values: `PyMem_Malloc` and `PyObject_Malloc` (the raw domain is libc's).
pub const PYMEM_DOMAIN_MEM: c_int = 1;
pub const PYMEM_DOMAIN_OBJ: c_int = 2;

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

    pub fn PyMem_GetAllocator(domain: c_int, allocator: *mut PyMemAllocatorEx);
    pub fn PyMem_SetAllocator(domain: c_int, allocator: *mut PyMemAllocatorEx);

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
    pub fn PyCMethod_New(
        def: *mut PyMethodDef,
        slf: *mut PyObject,
        module: *mut PyObject,
        class: *mut PyObject,
    ) -> *mut PyObject;
    pub fn PyDict_SetItemString(dict: *mut PyObject, key: *const c_char, value: *mut PyObject) -> c_int;
    pub fn PyLong_FromLongLong(value: i64) -> *mut PyObject;
    pub fn PyLong_FromUnsignedLongLong(value: u64) -> *mut PyObject;
    pub fn PyLong_AsLongLong(value: *mut PyObject) -> i64;
    pub fn PyLong_AsUnsignedLongLong(value: *mut PyObject) -> u64;
    pub fn PyTuple_New(size: PySsizeT) -> *mut PyObject;
    pub fn PyTuple_SetItem(tuple: *mut PyObject, index: PySsizeT, item: *mut PyObject) -> c_int;
    pub fn PyList_New(size: PySsizeT) -> *mut PyObject;
    pub fn PyList_SetItem(list: *mut PyObject, index: PySsizeT, item: *mut PyObject) -> c_int;
    pub fn PyErr_Occurred() -> *mut PyObject;
    pub fn PyErr_SetString(kind: *mut PyObject, message: *const c_char);
    pub static mut PyExc_TypeError: *mut PyObject;
    pub static mut PyExc_MemoryError: *mut PyObject;
    pub fn PyErr_ExceptionMatches(kind: *mut PyObject) -> c_int;
    pub fn PyErr_Print();
    pub fn PyErr_Clear();
    pub fn Py_DecRef(object: *mut PyObject);
    pub fn Py_IncRef(object: *mut PyObject);
    pub static mut _Py_NoneStruct: PyObject;
    pub static mut PyLong_Type: PyObject;
    pub fn PyObject_IsInstance(object: *mut PyObject, class: *mut PyObject) -> c_int;
    pub fn PyObject_IsTrue(object: *mut PyObject) -> c_int;
    pub fn PyObject_CallObject(callable: *mut PyObject, args: *mut PyObject) -> *mut PyObject;
    pub fn PyBytes_FromStringAndSize(data: *const c_char, size: PySsizeT) -> *mut PyObject;

    // wasi-libc.
    pub fn fflush(stream: *mut c_void) -> c_int;
    /// Closes every descriptor (preopens and stdio too); libc reopens them lazily.
    pub fn __wasilibc_reset_preopens();
}
