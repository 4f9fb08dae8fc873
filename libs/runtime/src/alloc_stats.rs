//! `_eryx_alloc`: a builtin module that shows what the small-object allocator holds.
//!
//! `stats()` returns `(installed, pools, blocks, bytes, memory)`: whether [`crate::small_alloc`]
//! serves CPython's object and `PyMem` domains (0 or 1), its pools in use, its blocks in use,
//! their bytes, and the size of the linear memory. Tests
//! use it to see that objects really come from the allocator; it is also handy to look at a
//! program's small-object footprint and the pools' fill.

use std::ptr;

use crate::ffi::{self, PyObject, PySsizeT};
use crate::small_alloc;

/// Creates `_eryx_alloc` in `sys.modules`. Called once, right after Python starts.
pub(crate) fn install() -> Result<(), &'static str> {
    // SAFETY: single-threaded guest, the interpreter runs; every pointer is checked.
    unsafe {
        let module = ffi::PyImport_AddModule(c"_eryx_alloc".as_ptr());
        if module.is_null() {
            return Err("cannot create the _eryx_alloc module");
        }
        let dict = ffi::PyModule_GetDict(module);
        let def = ptr::from_ref(&STATS.0).cast_mut();
        let function = ffi::PyCMethod_New(def, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        if function.is_null() || ffi::PyDict_SetItemString(dict, c"stats".as_ptr(), function) != 0 {
            return Err("cannot add _eryx_alloc.stats");
        }
        ffi::Py_DecRef(function);
        Ok(())
    }
}

struct Method(ffi::PyMethodDef);
// SAFETY: the definition is immutable and the guest has one thread.
unsafe impl Sync for Method {}

static STATS: Method = Method(ffi::PyMethodDef {
    ml_name: c"stats".as_ptr(),
    ml_meth: py_stats,
    ml_flags: ffi::METH_FASTCALL,
    ml_doc: ptr::null(),
});

unsafe extern "C" fn py_stats(_: *mut PyObject, _: *const *mut PyObject, nargs: PySsizeT) -> *mut PyObject {
    unsafe {
        if nargs != 0 {
            ffi::PyErr_SetString(ffi::PyExc_TypeError, c"stats() takes no arguments".as_ptr());
            return ptr::null_mut();
        }
        let stats = small_alloc::stats();
        let values = [i64::from(stats.installed), stats.pools as i64, stats.blocks as i64, stats.bytes as i64, stats.memory as i64];
        let tuple = ffi::PyTuple_New(values.len() as PySsizeT);
        if tuple.is_null() {
            return tuple;
        }
        for (index, value) in values.into_iter().enumerate() {
            let item = ffi::PyLong_FromLongLong(value);
            // PyTuple_SetItem steals `item`, and fails only for a NULL item here.
            if item.is_null() || ffi::PyTuple_SetItem(tuple, index as PySsizeT, item) != 0 {
                ffi::Py_DecRef(tuple);
                return ptr::null_mut();
            }
        }
        tuple
    }
}
