"""Pure planners of the storage part: Ceph daemons, OSDs, CRUSH rules and pools, keys.

Nothing here touches a host: the host deploys (``mlsite/hosts/deploys/ceph*.py``) turn these plans
into operations, and tests check them exhaustively.
"""
