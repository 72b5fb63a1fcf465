"""The production shape of Temporal for cvms: the official server built from its Go module,
run as a multi-process cluster on PostgreSQL (`python -m cluster.temporal_cluster`)."""
