"""The one exception type the lab raises for problems a person can fix."""


class LabError(Exception):
    """A lab problem explained in one line (the CLI prints it and exits with code 2)."""


class BootFailed(LabError):
    """A lab host's machine stopped before it was SSH-ready."""

    def __init__(self, host: str) -> None:
        super().__init__(f"lab host {host} stopped while booting")
        self.host = host
