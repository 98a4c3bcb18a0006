"""Optional dependencies, imported only when a feature needs them, with an error that says what to install.

The cluster's nodes (server, Ray workers) run without them; the client side
installs them with the ``client`` extra: ``pip install 'descent[client]'``
(matplotlib for ``--plot``, Pillow for reading images in ``predict``, Optuna and cmaes for
``tune``).
"""

import importlib

EXTRA = "client"
#: The distribution that provides each optional top-level module.
PROVIDERS = {"matplotlib": "matplotlib", "PIL": "Pillow", "optuna": "Optuna", "cmaes": "cmaes"}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names it and the extra to install."""


def import_extra(module: str, purpose: str):
    """Import ``module`` (e.g. ``"PIL.Image"``) or raise MissingExtra naming ``purpose`` and the pip command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtra(
            f"{purpose} needs {PROVIDERS.get(top, top)}, which is not installed here: "
            f"pip install 'descent[{EXTRA}]'"
        ) from None
