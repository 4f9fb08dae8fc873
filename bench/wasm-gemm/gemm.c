/* A prototype matrix product for wasm32, to measure what a BLAS-like kernel would give numpy in
 * eryx (see bench/ANALYSIS.md, "numpy's np.dot"). Not a BLAS: C = A·B for square, C-contiguous
 * float64 matrices only, exposed as a CPython extension taking three buffers (numpy arrays).
 *
 *   ikj(c, a, b, n)      row-major loop order: c[i,:] += a[i,k] * b[k,:] (contiguous inner loop,
 *                        which clang vectorises with -msimd128);
 *   blocked(c, a, b, n)  a 4×4 register block of c kept in registers over the whole k loop (with
 *                        -msimd128: eight f64x2 accumulators, SIMD128 intrinsics; with
 *                        -mrelaxed-simd: fused multiply-add, f64x2.relaxed_madd).
 *
 * Built three times by build.sh (scalar, -msimd128, -msimd128 -mrelaxed-simd) as three modules.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

static void ikj(double *c, const double *a, const double *b, Py_ssize_t n) {
    memset(c, 0, sizeof(double) * n * n);
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t k = 0; k < n; k++) {
            const double aik = a[i * n + k];
            double *restrict ci = c + i * n;
            const double *restrict bk = b + k * n;
            for (Py_ssize_t j = 0; j < n; j++) ci[j] += aik * bk[j];
        }
}

/* c[i..i+4, j..j+4] over every k. */
static void block4x4(double *c, const double *a, const double *b, Py_ssize_t n, Py_ssize_t i, Py_ssize_t j) {
#ifdef __wasm_simd128__
    v128_t acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = wasm_f64x2_splat(0.0);
    for (Py_ssize_t k = 0; k < n; k++) {
        const v128_t b0 = wasm_v128_load(b + k * n + j), b1 = wasm_v128_load(b + k * n + j + 2);
        for (int r = 0; r < 4; r++) {
            const v128_t ar = wasm_f64x2_splat(a[(i + r) * n + k]);
#ifdef __wasm_relaxed_simd__
            acc[r][0] = wasm_f64x2_relaxed_madd(ar, b0, acc[r][0]);
            acc[r][1] = wasm_f64x2_relaxed_madd(ar, b1, acc[r][1]);
#else
            acc[r][0] = wasm_f64x2_add(acc[r][0], wasm_f64x2_mul(ar, b0));
            acc[r][1] = wasm_f64x2_add(acc[r][1], wasm_f64x2_mul(ar, b1));
#endif
        }
    }
    for (int r = 0; r < 4; r++) {
        wasm_v128_store(c + (i + r) * n + j, acc[r][0]);
        wasm_v128_store(c + (i + r) * n + j + 2, acc[r][1]);
    }
#else
    double acc[4][4] = {{0}};
    for (Py_ssize_t k = 0; k < n; k++)
        for (int r = 0; r < 4; r++) {
            const double ar = a[(i + r) * n + k];
            for (int s = 0; s < 4; s++) acc[r][s] += ar * b[k * n + j + s];
        }
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 4; s++) c[(i + r) * n + j + s] = acc[r][s];
#endif
}

static void blocked(double *c, const double *a, const double *b, Py_ssize_t n) {
    const Py_ssize_t n4 = n - n % 4;
    for (Py_ssize_t i = 0; i < n4; i += 4)
        for (Py_ssize_t j = 0; j < n4; j += 4) block4x4(c, a, b, n, i, j);
    /* The edges (n not a multiple of 4), plainly. */
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t j = (i < n4 ? n4 : 0); j < n; j++) {
            double sum = 0;
            for (Py_ssize_t k = 0; k < n; k++) sum += a[i * n + k] * b[k * n + j];
            c[i * n + j] = sum;
        }
}

typedef void (*kernel)(double *, const double *, const double *, Py_ssize_t);

static PyObject *run(PyObject *args, kernel f) {
    Py_buffer c, a, b;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "w*y*y*n", &c, &a, &b, &n)) return NULL;
    PyObject *result = Py_None;
    if (c.len != n * n * (Py_ssize_t)sizeof(double) || a.len != c.len || b.len != c.len) {
        PyErr_SetString(PyExc_ValueError, "three C-contiguous float64 n×n buffers expected");
        result = NULL;
    } else {
        f(c.buf, a.buf, b.buf, n);
        Py_INCREF(result);
    }
    PyBuffer_Release(&c);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

static PyObject *py_ikj(PyObject *self, PyObject *args) { return run(args, ikj); }
static PyObject *py_blocked(PyObject *self, PyObject *args) { return run(args, blocked); }

static PyMethodDef methods[] = {
    {"ikj", py_ikj, METH_VARARGS, "c = a @ b, i-k-j loop order"},
    {"blocked", py_blocked, METH_VARARGS, "c = a @ b, 4x4 register blocks"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, MODULE_NAME, NULL, -1, methods};

PyMODINIT_FUNC CAT(PyInit_, MODULE)(void) { return PyModule_Create(&module); }
