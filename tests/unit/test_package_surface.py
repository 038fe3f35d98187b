"""`import crowdstake` offers every role's class by name, each imported on first use."""

import subprocess
import sys

import crowdstake


def test_every_public_name_resolves_to_the_package_class():
    for name in crowdstake.__all__:
        value = getattr(crowdstake, name)
        assert name == "__version__" or value.__module__.startswith("crowdstake."), name


def test_importing_the_package_imports_none_of_them_yet():
    code = "import sys, crowdstake; print(sorted(m for m in sys.modules if m.startswith('crowdstake')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['crowdstake', 'crowdstake.errors']"
