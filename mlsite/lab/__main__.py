"""`python -m mlsite.lab`: the lab commands without the main CLI."""

from mlsite.lab.cli import app

app(prog_name="mlsite lab")
