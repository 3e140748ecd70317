"""The pyinfra half of the ``ceph`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.ceph``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import apt, server

from mlsite.hosts import notices
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.ceph import (
    Params,
    left_out,
    packages,
    planned_commands,
    release_of,
    render,
)
from mlsite.hosts.deploys.ceph import daemons as ceph_daemons
from mlsite.hosts.deploys.ceph.daemons import wait_for_cluster
from mlsite.hosts.deploys.ceph.facts import CephCandidate, CephState
from mlsite.hosts.deploys.ceph.keys import ClusterKeys, cluster_keys
from mlsite.hosts.distro import UnsupportedDistribution, distro


def refuse_unsupported_release() -> None:
    """Ceph hosts run Debian 12 or Ubuntu: Debian 13's Ceph packages (18.2.7) leave the
    cluster short of HEALTH_OK (found on lab hosts: 13 ceph-mgr modules, balancer,
    pg_autoscaler and volumes among them, fail to load, "PyO3 modules do not yet support
    subinterpreters"). Refused before anything is installed."""
    d = distro()
    if d.family == "debian" and d.major >= 13:
        raise UnsupportedDistribution(
            f"{host.name}: the ceph role does not run on Debian {d.major}: its Ceph 18.2.7 "
            "packages fail to load 13 ceph-mgr modules (PyO3 modules do not yet support "
            "subinterpreters), so the cluster never reaches HEALTH_OK; run Ceph hosts on "
            "Debian 12, Ubuntu 22.04 or Ubuntu 24.04"
        )


def refuse_another_ceph_release(params: Params) -> None:
    """``storage.ceph.release`` holds: the host's package sources offer that release (mlsite
    installs the distribution's packages, so it cannot bring another). Refused before
    anything is installed, naming what the host offers."""
    if params.release is None:
        return
    offered = host.get_fact(CephCandidate)
    if release_of(offered) != params.release:
        what = (
            f"Ceph {offered} ({release_of(offered) or 'unknown release'})"
            if offered
            else ("no Ceph package")
        )
        raise UnsupportedDistribution(
            f"{host.name}: storage.ceph.release asks for {params.release}, but the host's "
            f"package sources offer {what}; give the release they offer, leave release out, "
            "or add a repository of that release to the host"
        )


@deploy("ceph")
def ceph(params: Params) -> None:
    """Apply the current host's part of the Ceph cluster."""
    refuse_unsupported_release()
    refuse_another_ceph_release(params)
    keys: ClusterKeys = cluster_keys(params)
    apt.packages(
        name="Install Ceph packages",
        packages=packages(params, host.name),
        no_recommends=True,
        update=True,
        cache_time=86400,
    )
    put_text(
        f"Configure the {params.cluster} cluster",
        f"/etc/ceph/{params.cluster}.conf",
        render.ceph_conf(
            fsid=params.fsid,
            mons=tuple((m.name, m.address) for m in params.mons),
            public_network=params.public_network,
            cluster_network=params.cluster_network,
            mon_data_avail_warn_pct=params.mon_data_avail_warn_pct,
        ),
    )
    put_text(
        "Install the admin keyring",
        f"/etc/ceph/{params.cluster}.client.admin.keyring",
        keys.admin_keyring(),
        "600",
    )
    ceph_daemons.monitor(params, keys)
    ceph_daemons.manager(params)
    ceph_daemons.osds(params, keys)
    ceph_daemons.metadata_server(params)
    if host.name == params.bootstrap:
        cluster_settings(params)


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/ceph/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.ceph import DEPLOY

    run_deploy_file(DEPLOY)


def cluster_settings(params: Params) -> None:
    """Apply what the cluster lacks of the planned rules, pools, ratios and CephFS."""
    observed = host.get_fact(CephState, cluster=params.cluster)
    for text in left_out(params, observed):
        notices.notice(text)
    commands = planned_commands(params, observed)
    if commands:
        server.shell(
            name=f"Apply cluster settings ({len(commands)} changes)",
            commands=[wait_for_cluster(params.cluster), *commands],
        )
