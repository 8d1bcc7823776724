import subprocess
import sys


def test_import_squiggles_does_not_import_tensorflow():
    code = (
        "import sys, squiggles\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
