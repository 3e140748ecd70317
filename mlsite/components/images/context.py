"""Pure planning of a runtime image build: build args from the pins, the content-hash tag.

The tag is a hash of every file of the build context and of the build args, so an
unchanged context and unchanged pins give the same tag, and the builder skips the build.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlsite.hosts.deploys.image_build import context_paths
from mlsite.spec.services import RuntimeImage
from mlsite.versions import pin, pins

CONTEXT_DIR = Path(__file__).resolve().parents[3] / "images" / "ml-runtime"
"""The build context of the ML runtime image."""

_PACKAGE_ARGS = {
    "NUMPY_VERSION": "numpy",
    "PANDAS_VERSION": "pandas",
    "SCIKIT_LEARN_VERSION": "scikit_learn",
    "TRANSFORMERS_VERSION": "transformers",
    "SENTENCEPIECE_VERSION": "sentencepiece",
    "FUGASHI_VERSION": "fugashi",
    "UNIDIC_LITE_VERSION": "unidic_lite",
    "MECAB_PYTHON3_VERSION": "mecab_python3",
}


def pinned_args(variant: str = "cpu") -> dict[str, str]:
    """Build args from mlsite/data/versions.yaml for a ``gpu`` or ``cpu`` image."""
    gpu = variant == "gpu"
    args = {
        "BASE_IMAGE": pin("nvidia", "cuda_base_image") if gpu else pin("cpu_base_image"),
        "PYTHON_VERSION": pin("python"),
        "PYTORCH_VERSION": pin("pytorch"),
        "JUPYTERLAB_VERSION": pin("jupyterlab"),
        "TORCH_INDEX_URL": pin("runtime_image", "torch_index_gpu" if gpu else "torch_index_cpu"),
    }
    args |= {arg: str(pins()["runtime_image"][key]) for arg, key in _PACKAGE_ARGS.items()}
    return args


def build_args(spec: RuntimeImage) -> dict[str, str]:
    """The build args of ``spec``: the pins, its base image and Python when it sets them,
    and its package sets (``PACKAGE_SETS``, space-separated)."""
    args = pinned_args(spec.variant)
    if spec.base_image is not None:
        args["BASE_IMAGE"] = spec.base_image
    args["PYTHON_VERSION"] = spec.python
    args["PACKAGE_SETS"] = " ".join(spec.package_sets)
    return dict(sorted(args.items()))


def context_hash(context: Path, args: dict[str, str]) -> str:
    """sha256 over the context's files (paths and bytes, sorted) and the build args."""
    digest = hashlib.sha256()
    for rel, path in context_paths(context):
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for key, value in sorted(args.items()):
        digest.update(f"{key}={value}\0".encode())
    return digest.hexdigest()


def image_tag(context: Path, args: dict[str, str]) -> str:
    """The content-hash tag: ``c-`` and the first 16 hex digits of ``context_hash``."""
    return "c-" + context_hash(context, args)[:16]
