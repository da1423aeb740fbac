//! `--shard`: one worker's share of a load, given as `i/N` or read from the scheduler that started it (`auto`).
//!
//! Worker `i` of `N` publishes the events `k ≡ i (mod N)` of one schedule,
//! so N workers with one start time split one load exactly. Under a
//! scheduler, `--shard auto` finds `i` and `N` where the scheduler puts them:
//!
//! | scheduler | index | count |
//! |---|---|---|
//! | Slurm job array | `SLURM_ARRAY_TASK_ID` (less `SLURM_ARRAY_TASK_MIN`, over `SLURM_ARRAY_TASK_STEP`) | `SLURM_ARRAY_TASK_COUNT` |
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `HARNESS_SHARD_COUNT`, set by the manifest |
//! | Open MPI | `OMPI_COMM_WORLD_RANK` | `OMPI_COMM_WORLD_SIZE` |
//! | MPICH, Intel MPI (PMI) | `PMI_RANK` | `PMI_SIZE` |
//!
//! The first scheduler whose index is set decides; a half-set or
//! inconsistent pair is an error, never a guess.
//!
//! The workers of one run may also share a run id (`--run-id`, or
//! `$HARNESS_RUN_ID`), which `report merge` holds them to. A Slurm array
//! gives one of its own: `slurm-$SLURM_ARRAY_JOB_ID`, taken with the shard.

use std::fmt;
use std::str::FromStr;

/// Worker `index` of `count` (`--shard 1/4` is the second of four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether event `k` is this worker's.
    pub fn owns(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// A shard, or why `index` and `count` make none.
    fn new(index: u64, count: u64) -> Result<Shard, String> {
        let count = u32::try_from(count)
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| format!("a shard count must be 1 to {}, not {count}", u32::MAX))?;
        let index = u32::try_from(index)
            .ok()
            .filter(|&i| i < count)
            .ok_or_else(|| format!("shard {index} is not one of 0 to {}", count - 1))?;
        Ok(Shard { index, count })
    }

    /// The shard the scheduler's environment gives (`--shard auto`), read through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            let Some(text) = var(name) else {
                return Ok(None);
            };
            text.trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={text:?} is not a whole number"))
        };
        let pair = |scheduler: &str, index: &str, count: &str| -> Result<Shard, String> {
            let (i, n) = (number(index)?, number(count)?);
            let n = n.ok_or_else(|| {
                format!("--shard auto: {index} is set ({scheduler}) but {count} is not")
            })?;
            Shard::new(i.unwrap_or_default(), n)
                .map_err(|e| format!("--shard auto: {index} and {count} ({scheduler}): {e}"))
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            return slurm(id, &number);
        }
        if var("JOB_COMPLETION_INDEX").is_some() {
            return pair(
                "a Kubernetes Indexed Job; set it in the manifest to the Job's completions",
                "JOB_COMPLETION_INDEX",
                "HARNESS_SHARD_COUNT",
            );
        }
        if var("OMPI_COMM_WORLD_RANK").is_some() {
            return pair("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
        }
        if var("PMI_RANK").is_some() {
            return pair("PMI", "PMI_RANK", "PMI_SIZE");
        }
        Err(NO_SCHEDULER.to_owned())
    }
}

/// The run id the scheduler that gives `--shard auto` its shard also gives:
/// a Slurm array's job id, which every task of the array shares.
pub fn scheduler_run_id(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    var("SLURM_ARRAY_TASK_ID")?;
    var("SLURM_ARRAY_JOB_ID").map(|job| format!("slurm-{}", job.trim()))
}

/// Parses a `--run-id`: 1 to 128 printable ASCII characters, no spaces.
pub fn parse_run_id(text: &str) -> Result<String, String> {
    let fits = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a run id: give 1 to 128 printable ASCII characters without spaces"
        ))
    }
}

/// What `--shard auto` says when no scheduler's variables are set.
const NO_SCHEDULER: &str = "--shard auto found no scheduler's shard in the environment: it reads \
     SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array), JOB_COMPLETION_INDEX and \
     HARNESS_SHARD_COUNT (a Kubernetes Indexed Job), OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE \
     (Open MPI), or PMI_RANK and PMI_SIZE (MPICH, Intel MPI); outside a scheduler, give --shard i/N";

/// A Slurm array task's shard: its place among the array's task ids.
fn slurm(id: u64, number: &dyn Fn(&str) -> Result<Option<u64>, String>) -> Result<Shard, String> {
    let count = number("SLURM_ARRAY_TASK_COUNT")?.ok_or(
        "--shard auto: SLURM_ARRAY_TASK_ID is set (a Slurm job array) but SLURM_ARRAY_TASK_COUNT is not",
    )?;
    let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
    let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
    let offset = id.checked_sub(min).filter(|o| o % step == 0).ok_or_else(|| {
        format!(
            "--shard auto: Slurm task {id} is not on the array's range from {min} in steps of {step}; \
             submit a plain range such as --array=0-{}",
            count.saturating_sub(1)
        )
    })?;
    Shard::new(offset / step, count).map_err(|e| {
        format!(
            "--shard auto: Slurm task {id} of {count} (from {min}, step {step}): {e}; \
             submit a plain range such as --array=0-{}",
            count.saturating_sub(1)
        )
    })
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a shard: write i/N with 0 <= i < N, e.g. 0/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = index.trim().parse().map_err(|_| bad())?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `--shard` was given: a shard, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Given(Shard),
    /// Read from the scheduler's environment when the run is configured.
    Auto,
}

impl ShardArg {
    /// The shard, reading this process's environment for `auto`.
    pub fn resolve(self) -> Result<Shard, String> {
        match self {
            ShardArg::Given(shard) => Ok(shard),
            ShardArg::Auto => Shard::from_env(|name| std::env::var(name).ok()),
        }
    }
}

impl FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim() == "auto" {
            return Ok(ShardArg::Auto);
        }
        text.parse().map(ShardArg::Given).map_err(|e| {
            format!("{e}, or auto to read it from the scheduler (Slurm, Kubernetes, MPI)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<Shard, String> {
        Shard::from_env(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn shard(index: u32, count: u32) -> Result<Shard, String> {
        Ok(Shard { index, count })
    }

    #[test]
    fn shards_split_the_events_without_overlap() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for k in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
        }
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1-3".parse::<Shard>().is_err());
        assert_eq!("auto".parse(), Ok(ShardArg::Auto));
        assert_eq!(
            "1/2".parse(),
            Ok(ShardArg::Given(Shard { index: 1, count: 2 }))
        );
        assert!("car".parse::<ShardArg>().unwrap_err().contains("auto"));
    }

    #[test]
    fn a_slurm_array_task_is_its_place_in_the_array() {
        let task = |id, min, step| {
            env(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_STEP", step),
            ])
        };
        assert_eq!(task("2", "0", "1"), shard(2, 3));
        // --array=1-3 and --array=10-14:2.
        assert_eq!(task("1", "1", "1"), shard(0, 3));
        assert_eq!(task("14", "10", "2"), shard(2, 3));
        assert!(task("11", "10", "2").unwrap_err().contains("--array=0-2"));
        assert!(task("3", "0", "1").unwrap_err().contains("--array=0-2"));
        let alone = env(&[("SLURM_ARRAY_TASK_ID", "0")]).unwrap_err();
        assert!(alone.contains("SLURM_ARRAY_TASK_COUNT"), "{alone}");
        // The MPI variables of an srun inside the array do not decide.
        let both = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("PMI_RANK", "0"),
            ("PMI_SIZE", "1"),
        ]);
        assert_eq!(both, shard(1, 2));
    }

    #[test]
    fn a_kubernetes_indexed_job_takes_its_count_from_the_manifest() {
        let job = env(&[("JOB_COMPLETION_INDEX", "4"), ("HARNESS_SHARD_COUNT", "5")]);
        assert_eq!(job, shard(4, 5));
        let unset = env(&[("JOB_COMPLETION_INDEX", "4")]).unwrap_err();
        assert!(
            unset.contains("HARNESS_SHARD_COUNT") && unset.contains("manifest"),
            "{unset}"
        );
        let beyond = env(&[("JOB_COMPLETION_INDEX", "5"), ("HARNESS_SHARD_COUNT", "5")]);
        assert!(beyond.unwrap_err().contains("not one of 0 to 4"));
        let garbled = env(&[("JOB_COMPLETION_INDEX", "x"), ("HARNESS_SHARD_COUNT", "5")]);
        assert!(garbled.unwrap_err().contains("JOB_COMPLETION_INDEX=\"x\""));
    }

    #[test]
    fn mpi_ranks_are_shards() {
        let ompi = env(&[("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "8")]);
        assert_eq!(ompi, shard(3, 8));
        assert_eq!(env(&[("PMI_RANK", "0"), ("PMI_SIZE", "2")]), shard(0, 2));
        let zero = env(&[("PMI_RANK", "0"), ("PMI_SIZE", "0")]).unwrap_err();
        assert!(zero.contains("PMI_SIZE"), "{zero}");
    }

    #[test]
    fn a_slurm_array_gives_its_job_id_as_the_run_id_and_nothing_else_does() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let array = vars(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_JOB_ID", "4711")]);
        assert_eq!(scheduler_run_id(array), Some("slurm-4711".to_owned()));
        // A plain job's id is its own, not its run's.
        assert_eq!(scheduler_run_id(vars(&[("SLURM_JOB_ID", "4711")])), None);
        assert_eq!(
            scheduler_run_id(vars(&[("JOB_COMPLETION_INDEX", "0")])),
            None
        );
        assert_eq!(
            parse_run_id("nightly-2026-12-07"),
            Ok("nightly-2026-12-07".to_owned())
        );
        for bad in ["", "two words", "tab\there", &"x".repeat(129)] {
            assert!(parse_run_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_a_scheduler_auto_names_every_variable_it_reads() {
        let error = env(&[("HOME", "/root")]).unwrap_err();
        for name in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "JOB_COMPLETION_INDEX",
            "HARNESS_SHARD_COUNT",
            "OMPI_COMM_WORLD_RANK",
            "OMPI_COMM_WORLD_SIZE",
            "PMI_RANK",
            "PMI_SIZE",
            "--shard i/N",
        ] {
            assert!(error.contains(name), "{name}: {error}");
        }
    }
}
