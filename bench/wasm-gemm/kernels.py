# np.dot of two 200×200 float64 matrices against the prototype kernels of gemm.c (when their
# wheel is there: in eryx; the host's python runs np.dot only). Prints one line,
# 'RESULT {json}' (medians in ms).
import json, statistics, time
import numpy as np

try:
    import _gemm_scalar, _gemm_simd, _gemm_fma
    modules = (_gemm_scalar, _gemm_simd, _gemm_fma)
except ImportError:
    modules = ()

n = 200
rng = np.random.default_rng(0)
a, b = rng.random((n, n)), rng.random((n, n))
c = np.empty((n, n))
expected = np.dot(a, b)


def median_ms(f, rounds=21):
    f()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter(); f(); samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


result = {"np.dot": median_ms(lambda: np.dot(a, b))}
for module in modules:
    for kernel in ("ikj", "blocked"):
        f = getattr(module, kernel)
        f(c, a, b, n)
        assert np.allclose(c, expected, rtol=1e-12, atol=0), (module.__name__, kernel)
        result[f"{module.__name__[1:]}.{kernel}"] = median_ms(lambda: f(c, a, b, n))
print("RESULT", json.dumps(result))
