"""Imported before numpy by the benchmarks that interleave crowdstake and numerai-tools.

OpenBLAS's idle worker threads spin for a while after each call (its default), holding the
second core against whatever runs next: in an interleaved run, the other package's turn. Set
before numpy loads OpenBLAS, OPENBLAS_THREAD_TIMEOUT=4 lets them sleep at once; each package
keeps its BLAS threads, and crowdstake's own threads get both cores.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
