"""Reviewing a change: inputs compared item by item, by identity, and the data each change
puts at risk. Pure (dicts in, findings out), so the offline plan's diff and the HostDeploy
provider's diff in the real engine tell the same story from the same code.
"""
