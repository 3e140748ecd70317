"""Where mlsite keeps things on this machine (standard library only; every layer may ask).

The lab's state directory is named here, not in ``mlsite.lab``, because the host layer must
find the lab's SSH key without importing the lab.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def lab_state_dir() -> Path:
    """The lab's state: ``$MLSITE_LAB_DIR``, else ``<cache>/mlsite/lab``."""
    env = os.environ.get("MLSITE_LAB_DIR")
    return Path(env) if env else cache_home() / "mlsite" / "lab"


def lab_ssh_key() -> Path:
    """The key that logs in to lab hosts: ``$MLSITE_SSH_KEY``, else the lab's own key."""
    env = os.environ.get("MLSITE_SSH_KEY")
    return Path(env) if env else lab_state_dir().absolute() / "ssh" / "id_ed25519"
