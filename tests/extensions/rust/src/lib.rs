//! eryx_test_rust._native: a CPython 3.14 extension written in Rust, used to test native-extension
//! support in eryx. The few C API items it needs are declared by hand below (`no_std`, with an
//! allocator on top of libc's malloc), so it builds with `-Z build-std=core,alloc` as a PIC
//! wasm32-wasip1 static library that tests/extensions/build.sh links into a shared module.
//!
//! Functions: add(a, b), greet(name), fail(msg), counter() (per-module state, multi-phase init)
//! and call(f, x) (a call back into Python).
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals)]

extern crate alloc;

use alloc::format;
use core::ffi::{c_char, c_int, c_long, c_longlong, c_void};
use core::ptr;

// ---- The CPython 3.14 C API, declared by hand (wasm32: pointers and Py_ssize_t are 32-bit) ----

type Py_ssize_t = isize;

/// PyObject_HEAD for a non-free-threaded build: the refcount, then the type pointer.
#[repr(C)]
pub struct PyObject {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut c_void,
}

type PyCFunction = unsafe extern "C" fn(*mut PyObject, *mut PyObject) -> *mut PyObject;
type PyCFunctionFast =
    unsafe extern "C" fn(*mut PyObject, *const *mut PyObject, Py_ssize_t) -> *mut PyObject;
type ExecFunc = unsafe extern "C" fn(*mut PyObject) -> c_int;

#[repr(C)]
struct PyMethodDef {
    ml_name: *const c_char,
    ml_meth: Option<PyCFunction>,
    ml_flags: c_int,
    ml_doc: *const c_char,
}

#[repr(C)]
struct PyModuleDef_Base {
    ob_base: PyObject,
    m_init: *mut c_void,
    m_index: Py_ssize_t,
    m_copy: *mut PyObject,
}

#[repr(C)]
struct PyModuleDef_Slot {
    slot: c_int,
    value: *mut c_void,
}

#[repr(C)]
struct PyModuleDef {
    m_base: PyModuleDef_Base,
    m_name: *const c_char,
    m_doc: *const c_char,
    m_size: Py_ssize_t,
    m_methods: *mut PyMethodDef,
    m_slots: *mut PyModuleDef_Slot,
    m_traverse: *mut c_void,
    m_clear: *mut c_void,
    m_free: *mut c_void,
}

const METH_VARARGS: c_int = 0x0001;
const METH_NOARGS: c_int = 0x0004;
const METH_O: c_int = 0x0008;
const METH_FASTCALL: c_int = 0x0080;
const Py_mod_exec: c_int = 2;
const Py_mod_multiple_interpreters: c_int = 3;
const Py_mod_gil: c_int = 4;
const Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: *mut c_void = 2 as *mut c_void;
const Py_MOD_GIL_NOT_USED: *mut c_void = 1 as *mut c_void;
/// _Py_STATIC_IMMORTAL_INITIAL_REFCNT on 32-bit platforms (refcount.h).
const STATIC_IMMORTAL_REFCNT: Py_ssize_t = 7 << 28;

unsafe extern "C" {
    static mut PyExc_TypeError: *mut PyObject;
    static mut PyExc_ValueError: *mut PyObject;
    static mut PyExc_OverflowError: *mut PyObject;

    fn PyModuleDef_Init(def: *mut PyModuleDef) -> *mut PyObject;
    fn PyModule_GetState(module: *mut PyObject) -> *mut c_void;
    fn PyModule_AddStringConstant(module: *mut PyObject, name: *const c_char, value: *const c_char) -> c_int;
    fn PyLong_AsLongLong(obj: *mut PyObject) -> c_longlong;
    fn PyLong_FromLongLong(v: c_longlong) -> *mut PyObject;
    fn PyLong_FromLong(v: c_long) -> *mut PyObject;
    fn PyTuple_Size(tuple: *mut PyObject) -> Py_ssize_t;
    fn PyTuple_GetItem(tuple: *mut PyObject, pos: Py_ssize_t) -> *mut PyObject;
    fn PyUnicode_AsUTF8AndSize(obj: *mut PyObject, size: *mut Py_ssize_t) -> *const c_char;
    fn PyUnicode_FromStringAndSize(s: *const c_char, size: Py_ssize_t) -> *mut PyObject;
    fn PyErr_Occurred() -> *mut PyObject;
    fn PyErr_SetString(exc: *mut PyObject, msg: *const c_char);
    fn PyErr_SetObject(exc: *mut PyObject, value: *mut PyObject);
    fn PyObject_CallOneArg(callable: *mut PyObject, arg: *mut PyObject) -> *mut PyObject;
}

// ---- libc allocator and panic handler (no std) ----

unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn aligned_alloc(align: usize, size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
    fn abort() -> !;
}

struct LibcAlloc;

unsafe impl core::alloc::GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= 8 {
                malloc(layout.size()) as *mut u8
            } else {
                aligned_alloc(layout.align(), layout.size().next_multiple_of(layout.align())) as *mut u8
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, _layout: core::alloc::Layout) {
        unsafe { free(p as *mut c_void) }
    }
}

#[global_allocator]
static ALLOCATOR: LibcAlloc = LibcAlloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe { abort() }
}

// ---- the module ----

#[repr(C)]
struct State {
    counter: c_long,
}

unsafe fn arg_i64(obj: *mut PyObject) -> Option<i64> {
    let v = unsafe { PyLong_AsLongLong(obj) };
    if v == -1 && !unsafe { PyErr_Occurred() }.is_null() { None } else { Some(v) }
}

/// add(a, b) -> a + b
unsafe extern "C" fn native_add(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    unsafe {
        if PyTuple_Size(args) != 2 {
            PyErr_SetString(PyExc_TypeError, c"add() takes exactly 2 arguments".as_ptr());
            return ptr::null_mut();
        }
        let (Some(a), Some(b)) = (arg_i64(PyTuple_GetItem(args, 0)), arg_i64(PyTuple_GetItem(args, 1))) else {
            return ptr::null_mut();
        };
        match a.checked_add(b) {
            Some(sum) => PyLong_FromLongLong(sum),
            None => {
                PyErr_SetString(PyExc_OverflowError, c"add() result does not fit in 64 bits".as_ptr());
                ptr::null_mut()
            }
        }
    }
}

/// greet(name) -> "hello, <name>" (formatted by Rust, allocated through libc)
unsafe extern "C" fn native_greet(_module: *mut PyObject, name: *mut PyObject) -> *mut PyObject {
    unsafe {
        let mut len: Py_ssize_t = 0;
        let data = PyUnicode_AsUTF8AndSize(name, &mut len);
        if data.is_null() {
            return ptr::null_mut();
        }
        let bytes = core::slice::from_raw_parts(data as *const u8, len as usize);
        let name = core::str::from_utf8_unchecked(bytes);
        let text = format!("hello, {name}");
        PyUnicode_FromStringAndSize(text.as_ptr() as *const c_char, text.len() as Py_ssize_t)
    }
}

/// fail(msg) raises ValueError(msg)
unsafe extern "C" fn native_fail(_module: *mut PyObject, msg: *mut PyObject) -> *mut PyObject {
    unsafe { PyErr_SetObject(PyExc_ValueError, msg) };
    ptr::null_mut()
}

/// counter() -> 1, 2, 3, ... (kept in the module's state)
unsafe extern "C" fn native_counter(module: *mut PyObject, _unused: *mut PyObject) -> *mut PyObject {
    unsafe {
        let state = PyModule_GetState(module) as *mut State;
        if state.is_null() {
            return ptr::null_mut();
        }
        (*state).counter += 1;
        PyLong_FromLong((*state).counter)
    }
}

/// call(f, x) -> f(x) (METH_FASTCALL)
unsafe extern "C" fn native_call(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    unsafe {
        if nargs != 2 {
            PyErr_SetString(PyExc_TypeError, c"call() takes exactly 2 arguments".as_ptr());
            return ptr::null_mut();
        }
        PyObject_CallOneArg(*args, *args.add(1))
    }
}

unsafe extern "C" fn native_exec(module: *mut PyObject) -> c_int {
    unsafe {
        (*(PyModule_GetState(module) as *mut State)).counter = 0;
        PyModule_AddStringConstant(module, c"implementation".as_ptr(), c"rust".as_ptr())
    }
}

const fn method(name: &'static core::ffi::CStr, f: PyCFunction, flags: c_int, doc: &'static core::ffi::CStr) -> PyMethodDef {
    PyMethodDef { ml_name: name.as_ptr(), ml_meth: Some(f), ml_flags: flags, ml_doc: doc.as_ptr() }
}

static mut METHODS: [PyMethodDef; 6] = [
    method(c"add", native_add, METH_VARARGS, c"add(a, b) -> a + b"),
    method(c"greet", native_greet, METH_O, c"greet(name) -> 'hello, <name>'"),
    method(c"fail", native_fail, METH_O, c"fail(msg) raises ValueError(msg)"),
    method(c"counter", native_counter, METH_NOARGS, c"counter() -> 1, 2, 3, ... on successive calls"),
    // SAFETY: CPython calls METH_FASTCALL functions with the PyCFunctionFast signature.
    method(
        c"call",
        unsafe { core::mem::transmute::<PyCFunctionFast, PyCFunction>(native_call) },
        METH_FASTCALL,
        c"call(f, x) -> f(x)",
    ),
    PyMethodDef { ml_name: ptr::null(), ml_meth: None, ml_flags: 0, ml_doc: ptr::null() },
];

static mut SLOTS: [PyModuleDef_Slot; 4] = [
    PyModuleDef_Slot {
        slot: Py_mod_exec,
        value: unsafe { core::mem::transmute::<ExecFunc, *mut c_void>(native_exec) },
    },
    PyModuleDef_Slot { slot: Py_mod_multiple_interpreters, value: Py_MOD_PER_INTERPRETER_GIL_SUPPORTED },
    PyModuleDef_Slot { slot: Py_mod_gil, value: Py_MOD_GIL_NOT_USED },
    PyModuleDef_Slot { slot: 0, value: ptr::null_mut() },
];

static mut MODULE: PyModuleDef = PyModuleDef {
    m_base: PyModuleDef_Base {
        ob_base: PyObject { ob_refcnt: STATIC_IMMORTAL_REFCNT, ob_type: ptr::null_mut() },
        m_init: ptr::null_mut(),
        m_index: 0,
        m_copy: ptr::null_mut(),
    },
    m_name: c"eryx_test_rust._native".as_ptr(),
    m_doc: c"Test extension for eryx, written in Rust.".as_ptr(),
    m_size: core::mem::size_of::<State>() as Py_ssize_t,
    m_methods: &raw mut METHODS as *mut PyMethodDef,
    m_slots: &raw mut SLOTS as *mut PyModuleDef_Slot,
    m_traverse: ptr::null_mut(),
    m_clear: ptr::null_mut(),
    m_free: ptr::null_mut(),
};

/// The module's entry point, found by CPython's importer (multi-phase initialisation).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PyInit__native() -> *mut PyObject {
    unsafe { PyModuleDef_Init(&raw mut MODULE) }
}
