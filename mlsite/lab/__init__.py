"""The lab: a site's hosts as systemd-nspawn machines on this computer, with fault drills.

`Lab` brings a `LabPlan` (from `plan_lab(site)`) up and down; `mlsite.lab.cli.app` is the
`mlsite lab` command group.
"""

from mlsite.lab.errors import LabError
from mlsite.lab.lab import Lab, LabStatus
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import LabDisk, LabHost, LabPlan, plan_lab

__all__ = ["Lab", "LabDirs", "LabDisk", "LabError", "LabHost", "LabPlan", "LabStatus", "plan_lab"]
