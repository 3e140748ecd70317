"""Storage helpers that are not a deploy: cephx keys and keyrings, cluster usage as people read
it, and the scripts installed on hosts (``mlsite-db``, ``mlsite-rbd-dev``).

Nothing here touches a host; the Ceph plans (daemons, OSDs, CRUSH rules, pools) live with
the ceph deploy, in ``mlsite.hosts.deploys.ceph``.
"""
