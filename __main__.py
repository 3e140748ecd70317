"""The Pulumi program entry: runs stacks/<stack>.py if present, else the whole site."""

from pathlib import Path

from mlsite.components.program import engine_main

engine_main(Path(__file__).resolve().parent)
