"""The Pulumi program entry: runs stacks/<stack>.py if present, else the whole site."""

from pathlib import Path

from components.program import main

main(Path(__file__).resolve().parent)
