/* eryx_test_c._native: a small CPython 3.14 extension used to test native-extension support in
 * eryx. Built for wasm32-wasi by tests/extensions/build.sh. Each function exercises one part of
 * the C API across the sandbox's dynamic linking: ints, strings, exceptions, per-module state
 * (multi-phase init, PEP 489) and calls back into Python. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    long counter;
} native_state;

/* add(a, b) -> a + b (ints) */
static PyObject *native_add(PyObject *module, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll:add", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

/* greet(name) -> "hello, <name>" */
static PyObject *native_greet(PyObject *module, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "greet() expects a str");
        return NULL;
    }
    return PyUnicode_FromFormat("hello, %U", name);
}

/* fail(msg) raises ValueError(msg) */
static PyObject *native_fail(PyObject *module, PyObject *msg) {
    PyErr_SetObject(PyExc_ValueError, msg);
    return NULL;
}

/* counter() -> 1, 2, 3, ... (state kept in the module object) */
static PyObject *native_counter(PyObject *module, PyObject *unused) {
    native_state *state = PyModule_GetState(module);
    if (state == NULL)
        return NULL;
    state->counter += 1;
    return PyLong_FromLong(state->counter);
}

/* call(f, x) -> f(x) */
static PyObject *native_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "call() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    return PyObject_CallOneArg(args[0], args[1]);
}

static int native_exec(PyObject *module) {
    native_state *state = PyModule_GetState(module);
    state->counter = 0;
    return PyModule_AddStringConstant(module, "implementation", "c");
}

static PyMethodDef native_methods[] = {
    {"add", native_add, METH_VARARGS, "add(a, b) -> a + b"},
    {"greet", native_greet, METH_O, "greet(name) -> 'hello, <name>'"},
    {"fail", native_fail, METH_O, "fail(msg) raises ValueError(msg)"},
    {"counter", native_counter, METH_NOARGS, "counter() -> 1, 2, 3, ... on successive calls"},
    {"call", (PyCFunction)(void (*)(void))native_call, METH_FASTCALL, "call(f, x) -> f(x)"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot native_slots[] = {
    {Py_mod_exec, native_exec},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "eryx_test_c._native",
    .m_doc = "Test extension for eryx, written in C.",
    .m_size = sizeof(native_state),
    .m_methods = native_methods,
    .m_slots = native_slots,
};

PyMODINIT_FUNC PyInit__native(void) {
    return PyModuleDef_Init(&native_module);
}
