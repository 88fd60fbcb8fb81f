"""Make this machine pass for a CPU without bf16 instructions, in every Python process started
with this folder first on PYTHONPATH (subprocesses inherit it): torch's probes for AVX-512 BF16
and AMX say no, so train.precision=auto resolves to fp32 as it would there.

Used to time the test suite and the default run as on an AVX2-only CPU (docs/performance.md):

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=benchmarks/as_avx2:src \\
        python -m pytest -n 2

The two variables make torch's own kernels and oneDNN's use AVX2 code as well, so the compute
is that of such a CPU too, not only the choice of precision. torch is patched when a process
imports it, not before: a process that never imports torch stays without it.
"""

import importlib.abc
import importlib.util
import sys


class _PatchTorchCpu(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != "torch.cpu":
            return None
        sys.meta_path.remove(self)  # find the real module, then wrap its loader
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self._real = spec.loader
            spec.loader = self
        return spec

    def create_module(self, spec):
        return self._real.create_module(spec)

    def exec_module(self, module):
        self._real.exec_module(module)
        module._is_avx512_bf16_supported = lambda: False
        module._is_amx_tile_supported = lambda: False


sys.meta_path.insert(0, _PatchTorchCpu())
