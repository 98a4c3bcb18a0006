"""formats/digits.npz: the bundled digits are exactly scikit-learn's, and the nodes load them without sklearn.

scikit-learn is a test-only dependency (the ``test`` extra): it is the oracle here.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as sklearn_digits

from formats import datasets
from formats.digits import load_digits
from formats.extras import MissingExtra, import_extra

ROOT = Path(__file__).resolve().parents[2]


def test_file_matches_sklearn_exactly():
    X, y = load_digits()
    oracle = sklearn_digits()
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.shape == (1797, 64) and y.shape == (1797,)
    np.testing.assert_array_equal(X, oracle.data)
    np.testing.assert_array_equal(y, oracle.target)


def test_datasets_load_digits_is_the_file():
    (X, y), test, num_classes = datasets.load("digits", np.random.default_rng(0))
    oracle = sklearn_digits()
    assert test is None and num_classes == 10
    np.testing.assert_array_equal(X, oracle.data)
    np.testing.assert_array_equal(y, oracle.target)


def test_node_code_loads_neither_sklearn_nor_scipy_nor_plotting():
    """What a server or Ray worker imports and runs for a digits job pulls in none of the client extras."""
    code = ("import sys, server.app, worker.task.loop, worker.data.prepare, numpy as np; "
            "p = worker.data.prepare.prepare('digits', 0); assert p.X_train.shape[1] == 65, p.X_train.shape; "
            "print(sorted(m for m in ('sklearn', 'scipy', 'matplotlib', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_runtime_dependencies_leave_out_sklearn_and_plotting():
    """The package's own requirements: sklearn only under ``test``, matplotlib and Pillow only as extras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    for name in ("scikit-learn", "scipy", "matplotlib", "pillow"):
        assert name not in runtime, f"{name} is a runtime dependency"
    assert {"matplotlib>=3.7", "pillow>=9"} <= set(project["optional-dependencies"]["client"])


def test_missing_extra_names_what_to_install():
    try:
        import_extra("no_such_module_descent.sub", "drawing a plot")
    except MissingExtra as error:
        assert str(error) == ("drawing a plot needs no_such_module_descent, which is not installed here: "
                              "pip install 'descent[client]'")
    else:
        raise AssertionError("import_extra imported a module that does not exist")


def test_cli_without_pillow_says_what_to_install(tmp_path):
    """`descent predict` on an image with Pillow unavailable: one error line naming Pillow and the extra."""
    from formats.model import Model, model_bytes

    rng = np.random.default_rng(0)
    model = Model(W=rng.standard_normal((10, 65)).astype(np.float32), mean=np.zeros(64), scale=1.0,
                  class_names=tuple(str(i) for i in range(10)), image_shape=(8, 8), pixel_max=16.0,
                  dataset="digits", job_id="j-test")
    path = tmp_path / "model.npz"
    path.write_bytes(model_bytes(model))
    image = tmp_path / "seven.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    code = ("import sys; sys.modules['PIL'] = None; sys.argv = ['descent', 'predict', sys.argv[1], sys.argv[2]]; "
            "from client.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code, str(path), str(image)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.strip() == ("error: FAILED_PRECONDITION: reading images needs Pillow, which is not installed "
                                  "here: pip install 'descent[client]'")
    assert "Traceback" not in out.stderr
