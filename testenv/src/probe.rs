//! Whether a need is met here, and if not, why and what to do: the one probe both a test and the test command use.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::needs::{Entry, Need, OPEN_FILES};

/// The interop vectors' repository, and the commit whose files the tests were written against.
pub const VECTORS_REPO: &str = "https://github.com/bluesky-social/atproto-interop-tests";
pub const VECTORS_COMMIT: &str = "056e5741bb330757205d6b16db5266fffcae937b";

/// Where the vectors live below the shared folder.
const VECTORS_DIR: &str = "vectors/atproto-interop-tests";

/// A file every copy of the vectors has; its absence means no vectors.
const VECTORS_MARK: &str = "data-model/data-model-fixtures.json";

/// What the probes read from the process: kept in one value so tests can make their own.
#[derive(Clone, Debug)]
pub struct Env {
    /// The workspace root (the folder with `Cargo.lock`).
    pub root: PathBuf,
    /// `STREAMCHECK_SHARED`, when set.
    pub shared: Option<PathBuf>,
    /// `PATH`.
    pub path: Option<OsString>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            root: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("testenv lives one level below the workspace root")
                .to_path_buf(),
            shared: std::env::var_os("STREAMCHECK_SHARED")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            path: std::env::var_os("PATH"),
        }
    }

    /// The shared folder: `STREAMCHECK_SHARED`, or `../shared` beside the checkout.
    pub fn shared_dir(&self) -> PathBuf {
        match &self.shared {
            Some(dir) => dir.clone(),
            None => self.root.parent().unwrap_or(&self.root).join("shared"),
        }
    }

    /// The folder of the client `name`: the one `*/tests/clients/NAME` of the workspace.
    pub fn client_dir(&self, name: &str) -> Option<PathBuf> {
        client_dirs(&self.root)
            .into_iter()
            .find(|dir| dir.file_name().is_some_and(|n| n == name))
    }
}

/// Every real-client folder of the workspace (`*/tests/clients/*`), sorted.
pub fn client_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for krate in read_dir(root) {
        for client in read_dir(&krate.join("tests").join("clients")) {
            if client.is_dir() {
                dirs.push(client);
            }
        }
    }
    dirs.sort();
    dirs
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Why a need is not met here, and how to meet it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// Completes "… is missing: ": where it was looked for, what was found.
    pub reason: String,
    /// What a person does about it, one command or step a line.
    pub remedy: Vec<String>,
}

/// Whether `entry`'s need is met in `env`: the path that meets it (the
/// folder, the program; empty when there is none), or why not.
pub fn probe(entry: &Entry, env: &Env) -> Result<PathBuf, Missing> {
    match entry.need {
        Need::Vectors => vectors(env),
        Need::Seeds => seeds(env),
        Need::Client(name) => client(env, name),
        Need::Program(name) => program(env, name, entry.debian),
        Need::NetNamespace => net_namespace(),
        Need::OpenFiles => open_files(OPEN_FILES),
    }
}

fn vectors(env: &Env) -> Result<PathBuf, Missing> {
    let dir = env.shared_dir().join(VECTORS_DIR);
    if dir.join(VECTORS_MARK).is_file() {
        return Ok(dir);
    }
    let whence = match &env.shared {
        Some(_) => "from STREAMCHECK_SHARED",
        None => "STREAMCHECK_SHARED is not set, so ../shared beside the checkout",
    };
    Err(Missing {
        reason: format!("not in {} ({whence})", dir.display()),
        remedy: vec![
            format!("git clone {VECTORS_REPO} {}", dir.display()),
            format!("git -C {} checkout {VECTORS_COMMIT}", dir.display()),
            "or put the clone anywhere as DIR/vectors/atproto-interop-tests and set STREAMCHECK_SHARED=DIR".to_owned(),
        ],
    })
}

fn seeds(env: &Env) -> Result<PathBuf, Missing> {
    let dir = env.shared_dir().join("seeds");
    let any_seed = std::fs::read_dir(&dir).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "txt")))
    });
    if any_seed {
        return Ok(dir);
    }
    let whence = match &env.shared {
        Some(_) => "from STREAMCHECK_SHARED",
        None => "STREAMCHECK_SHARED is not set, so ../shared beside the checkout",
    };
    Err(Missing {
        reason: format!("no seed documents in {} ({whence})", dir.display()),
        remedy: vec![
            "set STREAMCHECK_SHARED=DIR, where DIR/seeds holds the seed documents".to_owned(),
        ],
    })
}

fn client(env: &Env, name: &str) -> Result<PathBuf, Missing> {
    let Some(dir) = env.client_dir(name) else {
        return Err(Missing {
            reason: format!("no folder */tests/clients/{name} in {}", env.root.display()),
            remedy: vec!["the checkout is incomplete: clone it again".to_owned()],
        });
    };
    let (marker, remedy) = if dir.join("package-lock.json").is_file() {
        (
            "node_modules/.package-lock.json",
            format!(
                "npm ci --prefix {} (Node.js 20 or newer and the npm registry)",
                dir.display()
            ),
        )
    } else {
        (
            ".venv/bin/python",
            format!(
                "python3 -m venv {0}/.venv && {0}/.venv/bin/pip install -r {0}/requirements.txt (PyPI)",
                dir.display()
            ),
        )
    };
    if dir.join(marker).exists() {
        return Ok(dir);
    }
    Err(Missing {
        reason: format!("not installed in {} (no {marker})", dir.display()),
        remedy: vec![format!("./test.sh installs it, or by hand: {remedy}")],
    })
}

fn program(env: &Env, name: &str, debian: &[&str]) -> Result<PathBuf, Missing> {
    let found = env
        .path
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|file| file.is_file());
    let remedy = vec![format!(
        "./test.sh installs it as root, or by hand: apt-get install {}",
        debian.join(" ")
    )];
    let Some(file) = found else {
        return Err(Missing {
            reason: "not on PATH".to_owned(),
            remedy,
        });
    };
    // The pip clients are installed into a venv, which Debian's python3 makes only with python3-venv.
    if name == "python3" && !succeeds(Command::new(&file).args(["-c", "import ensurepip, venv"])) {
        return Err(Missing {
            reason: format!("{} cannot make a venv (no ensurepip)", file.display()),
            remedy,
        });
    }
    Ok(file)
}

fn net_namespace() -> Result<PathBuf, Missing> {
    if succeeds(Command::new("unshare").args(["--net", "true"])) {
        return Ok(PathBuf::new());
    }
    Err(Missing {
        reason: "`unshare --net true` fails here".to_owned(),
        remedy: vec![
            "run as root (or with CAP_SYS_ADMIN), where util-linux's unshare works".to_owned(),
        ],
    })
}

/// Whether the hard limit on open files allows `wanted`.
fn open_files(wanted: u64) -> Result<PathBuf, Missing> {
    match hard_open_files() {
        Some(hard) if hard >= wanted => Ok(PathBuf::new()),
        hard => Err(Missing {
            reason: match hard {
                Some(hard) => format!("the hard limit is {hard}, below {wanted}"),
                None => "/proc/self/limits does not say the hard limit".to_owned(),
            },
            remedy: vec![format!(
                "raise it to {OPEN_FILES} or more (as root: ulimit -Hn {OPEN_FILES}; or nofile in /etc/security/limits.conf)"
            )],
        }),
    }
}

/// The hard limit on open files, from `/proc/self/limits` ("Max open files  1024  1048576  files").
fn hard_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let hard = line.split_whitespace().nth(4)?;
    if hard == "unlimited" {
        return Some(u64::MAX);
    }
    hard.parse().ok()
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::NEEDS;

    #[test]
    fn every_client_folder_has_an_entry_and_every_client_entry_a_folder() {
        let env = Env::from_process();
        let mut folders: Vec<String> = client_dirs(&env.root)
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        folders.sort();
        let entries: Vec<&str> = NEEDS
            .iter()
            .filter_map(|e| match e.need {
                Need::Client(name) => Some(name),
                _ => None,
            })
            .collect();
        let mut sorted = entries.clone();
        sorted.sort_unstable();
        assert_eq!(
            folders, sorted,
            "*/tests/clients/* against the Client needs"
        );
        for name in entries {
            let dir = env.client_dir(name).unwrap();
            assert!(
                dir.join("package-lock.json").is_file() || dir.join("requirements.txt").is_file(),
                "{} has neither package-lock.json nor requirements.txt",
                dir.display()
            );
        }
    }

    #[test]
    fn the_hard_limit_on_open_files_is_read_from_proc() {
        let hard = hard_open_files().expect("Linux says the limit");
        assert!(hard > 0);
        assert!(open_files(hard).is_ok());
        if hard < u64::MAX {
            let missing = open_files(hard + 1).unwrap_err();
            assert!(missing.reason.contains(&hard.to_string()), "{missing:?}");
        }
    }

    #[test]
    fn a_program_is_found_on_path_or_named_missing() {
        let mut env = Env::from_process();
        assert!(program(&env, "sh", &[]).is_ok());
        env.path = Some(OsString::new());
        let missing = program(&env, "sh", &["dash"]).unwrap_err();
        assert_eq!(missing.reason, "not on PATH");
        assert!(
            missing.remedy[0].ends_with("apt-get install dash"),
            "{missing:?}"
        );
    }
}
