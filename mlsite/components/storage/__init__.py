"""Storage parts of a site: the Ceph cluster, NFS homes and personal databases."""
