"""The one exception type the lab raises for problems a person can fix."""


class LabError(Exception):
    """A lab problem explained in one line (the CLI prints it and exits with code 2)."""
