"""The site model: one typed description of a whole ML site.

``SiteSpec`` is the description; ``load_stack``/``load_file`` read it from a Pulumi stack
file and raise ``SiteError`` with every problem, each naming file, line and YAML path.
"""

from mlsite.spec.base import Secret
from mlsite.spec.hosts import Disk, Host, Role
from mlsite.spec.load import (
    CONFIG_KEY,
    Diagnostic,
    LoadedSite,
    SiteError,
    available_stacks,
    load_file,
    load_stack,
    project_root,
    stack_path,
    validate,
)
from mlsite.spec.model import SiteSpec
from mlsite.spec.rules import Problem

__all__ = [
    "CONFIG_KEY",
    "Diagnostic",
    "Disk",
    "Host",
    "LoadedSite",
    "Problem",
    "Role",
    "Secret",
    "SiteError",
    "SiteSpec",
    "available_stacks",
    "load_file",
    "load_stack",
    "project_root",
    "stack_path",
    "validate",
]
