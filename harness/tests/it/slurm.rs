//! Slurm end to end: a job array of `harness load --shard auto` workers and a dependent merge, on munged, slurmctld and three slurmd on this host.
