"""Data confinement: paths outside the data roots are refused alike whether or not they exist."""

from __future__ import annotations

import os

import numpy as np
import pytest

from server.errors import PermissionDenied, RequestError
from server.rpc.data_roots import DataRoots


@pytest.fixture()
def root(tmp_path):
    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    np.savez(data / "ok.npz", X=np.zeros((4, 2)), y=np.arange(4))
    (tmp_path / "outside").mkdir()
    np.savez(tmp_path / "outside" / "secret.npz", X=np.zeros((4, 2)), y=np.arange(4))
    return data


def refusal(roots: DataRoots, spec: str) -> str:
    with pytest.raises(PermissionDenied) as caught:
        roots.confine(spec)
    message = str(caught.value)
    assert "data roots" in message and str(roots.roots[0]) in message
    return message


def test_paths_inside_a_root_resolve_to_their_real_path(root):
    roots = DataRoots([root])
    assert roots.confine(f"npz:{root}/ok.npz") == f"npz:{root.resolve()}/ok.npz"
    assert roots.confine("npz:ok.npz") == f"npz:{root.resolve()}/ok.npz"  # relative to the first root
    assert roots.confine("mnist:mnist") == f"mnist:{root.resolve()}/mnist"
    assert roots.confine(f"mnist:{root}") == f"mnist:{root.resolve()}"
    assert roots.confine("digits") == "digits" and roots.confine("synthetic:10,2,3") == "synthetic:10,2,3"


@pytest.mark.parametrize("spec", ["npz:/etc/passwd", "mnist:/", "cifar10:../../", "npz:../outside/secret.npz",
                                  "npz:~/x.npz", "mnist:mnist/../../outside"])
def test_escapes_are_refused(root, spec):
    refusal(DataRoots([root]), spec)


def test_the_message_does_not_tell_whether_the_target_exists(root, tmp_path):
    roots = DataRoots([root])
    exists = refusal(roots, f"npz:{tmp_path}/outside/secret.npz")
    missing = refusal(roots, f"npz:{tmp_path}/outside/absent.npz")
    assert exists.replace("secret", "X") == missing.replace("absent", "X")
    assert refusal(roots, "npz:/etc/passwd").replace("/etc/passwd", "P") == refusal(
        roots, "npz:/etc/no-such-file"
    ).replace("/etc/no-such-file", "P")


def test_symlinks_out_of_a_root_are_refused_and_inside_it_followed(root, tmp_path):
    os.symlink(tmp_path / "outside" / "secret.npz", root / "link.npz")
    os.symlink(tmp_path / "outside", root / "linkdir")
    os.symlink(root / "ok.npz", root / "inner.npz")
    roots = DataRoots([root])
    refusal(roots, "npz:link.npz")
    refusal(roots, "npz:linkdir/secret.npz")
    refusal(roots, "mnist:linkdir")
    assert roots.confine("npz:inner.npz") == f"npz:{root.resolve()}/ok.npz"


def test_a_second_root_is_searched_and_malformed_specs_are_request_errors(root, tmp_path):
    roots = DataRoots([root, tmp_path / "outside"])
    assert roots.confine(f"npz:{tmp_path}/outside/secret.npz").endswith("outside/secret.npz")
    with pytest.raises(RequestError, match="unknown data set"):
        roots.confine("imagenet:/x")
    with pytest.raises(RequestError):
        roots.confine("npz:")
