"""What a benchmark records about the machine it ran on: versions, cores, crowdstake's scoring
threads and the load average before and after (a shared machine's load explains its spread)."""

import os
import platform
from importlib.metadata import version

from crowdstake.scoring import transforms


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def machine(load_before: list[float], load_after: list[float]) -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "crowdstake_threads": transforms._THREADS,
        **{name: version(package) for name, package in
           (("numpy", "numpy"), ("scipy", "scipy"), ("pandas", "pandas"), ("numerai_tools", "numerai-tools"))},
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in load_after],
    }
