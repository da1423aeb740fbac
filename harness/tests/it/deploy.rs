//! Kubernetes and CI examples in fixtures/deploy/: valid against their schemas, and every harness command in them parses.
//!
//! The manifests are checked offline against the Kubernetes schemas by PyPI
//! `kubernetes-validate` (pinned in `harness/tests/clients/kubernetes-validate`,
//! installed by `./test.sh`), and the PyYAML of its venv reads every file
//! into JSON for the rest. The command lines go through the real
//! [`Cli`] with the values a run would pick put in. Nothing here runs
//! Kubernetes or GitHub Actions; `slurm.rs` runs a sharded load end to end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::SystemTime;

use clap::Parser;
use harness::cli::{Cli, Command, LoadArgs, MergeArgs, ReportCommand};
use harness::load::shard::ShardArg;
use serde_json::Value;

mod kubernetes;
mod workflow;

/// The Kubernetes version the manifests are checked against (one that `kubernetes-validate` ships).
const KUBERNETES: &str = "1.33.0";
/// What the tests put for the common start a run picks.
const SAMPLE_START: &str = "2026-11-23T10:00:00Z";
/// GitHub Actions' expression brackets, `${{ matrix.shard }}`.
const GITHUB: (&str, &str) = ("${{", "}}");
/// Kubernetes' own expansion in `command` and `args`, `$(START_AT)`.
const KUBERNETES_VAR: (&str, &str) = ("$(", ")");

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/deploy")
}

fn kubernetes_dir() -> PathBuf {
    deploy_dir().join("kubernetes")
}

/// The manifests: every `*.yaml` in `fixtures/deploy/kubernetes/`.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(kubernetes_dir())
        .expect("fixtures/deploy/kubernetes/ is there")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the claim, the workers and the merge, found {files:?}"
    );
    files
}

/// A program of the installed `kubernetes-validate` venv.
fn venv(program: &str) -> PathBuf {
    testenv::client("kubernetes-validate")
        .join(".venv/bin")
        .join(program)
}

/// `kubernetes-validate --strict` on `files`: its output, as `Ok` when they are valid.
fn validate(files: &[PathBuf]) -> Result<String, String> {
    let output = Process::new(venv("kubernetes-validate"))
        .args(["--strict", "--quiet", "--kubernetes-version", KUBERNETES])
        .args(files)
        .output()
        .expect("kubernetes-validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(text),
        Some(1) => Err(text),
        other => panic!("kubernetes-validate itself failed ({other:?}):\n{text}"),
    }
}

/// Every YAML document in `file`, read by PyYAML.
fn yaml(file: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let output = Process::new(venv("python"))
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "PyYAML cannot read {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("PyYAML's JSON")
}

/// The value at JSON pointer `pointer` in `value`, or a failure naming it.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {value:#}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    at(value, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string"))
}

/// The one resource of `kind` named `name` in the manifests.
fn resource(kind: &str, name: &str) -> Value {
    let found: Vec<Value> = manifests()
        .iter()
        .flat_map(|file| yaml(file))
        .filter(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} {name} in the manifests"
    );
    found.into_iter().next().unwrap()
}

/// The only container of a Job's pod template.
fn container(job: &Value) -> &Value {
    let containers = at(job, "/spec/template/spec/containers")
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

/// The container's variables, a sample for those from a ConfigMap or a Secret.
fn container_env(container: &Value) -> BTreeMap<String, String> {
    let sample = |name: &str| match name {
        "START_AT" => SAMPLE_START.to_owned(),
        "RUN" => "load-20261123-095700".to_owned(),
        _ => "sample".to_owned(),
    };
    let empty = Vec::new();
    let env = container["env"].as_array().unwrap_or(&empty);
    env.iter()
        .map(|var| {
            let name = text(var, "/name").to_owned();
            let value = match var.get("value") {
                Some(value) => value.as_str().expect("env values are strings").to_owned(),
                None => sample(&name),
            };
            (name, value)
        })
        .collect()
}

/// The container's command line, `$(VAR)` replaced as Kubernetes does it.
///
/// `index` is the Job controller's `JOB_COMPLETION_INDEX` (Indexed Jobs
/// only). A name the container does not define panics: Kubernetes would pass
/// `$(NAME)` on as it is.
fn kubernetes_argv(container: &Value, index: Option<u32>) -> Vec<String> {
    let env = container_env(container);
    let lookup = |name: &str| match (name, index) {
        ("JOB_COMPLETION_INDEX", Some(index)) => Ok(index.to_string()),
        _ => env.get(name).cloned().ok_or_else(|| {
            format!("the container defines no {name}: Kubernetes would pass $({name}) on as it is")
        }),
    };
    let words = at(container, "/command").as_array().unwrap().iter();
    let args = container["args"].as_array().into_iter().flatten();
    words
        .chain(args)
        .map(|word| expand(word.as_str().unwrap(), KUBERNETES_VAR, &lookup))
        .collect()
}

/// `text` with each `open NAME close` replaced by `lookup(NAME)`; a name it has no value for panics.
fn expand(
    text: &str,
    (open, close): (&str, &str),
    lookup: &dyn Fn(&str) -> Result<String, String>,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        let after = &rest[start + open.len()..];
        let end = after
            .find(close)
            .unwrap_or_else(|| panic!("{open} without {close} in {text:?}"));
        let value = lookup(after[..end].trim()).unwrap_or_else(|e| panic!("in {text:?}: {e}"));
        out.push_str(&value);
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

/// Parses a command line the way the binary does.
fn parse(argv: &[String], whence: &str) -> Command {
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{whence}: `{}` does not parse:\n{e}", argv.join(" ")))
        .command
}

fn load_args(command: Command, whence: &str) -> LoadArgs {
    match command {
        Command::Load(args) => *args,
        other => panic!("{whence}: not a load command: {other:?}"),
    }
}

fn merge_args(command: Command, whence: &str) -> MergeArgs {
    match command {
        Command::Report(ReportCommand::Merge(args)) => args,
        other => panic!("{whence}: not a report merge command: {other:?}"),
    }
}

fn sample_start() -> Option<SystemTime> {
    Some(humantime::parse_rfc3339(SAMPLE_START).unwrap())
}

/// The number of workers the worker Job's `HARNESS_SHARD_COUNT` names.
fn shard_count(workers: &Value) -> u32 {
    let env = container_env(container(workers));
    let count = env.get("HARNESS_SHARD_COUNT").expect(
        "the workers set HARNESS_SHARD_COUNT, which --shard auto needs beside JOB_COMPLETION_INDEX",
    );
    count.parse().expect("HARNESS_SHARD_COUNT is a number")
}

/// Splits one shell command line into words as bash does before globbing:
/// quotes removed, `$NAME` and `${NAME}` replaced from `vars`.
fn shell_words(line: &str, vars: &dyn Fn(&str) -> Result<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t') => words.extend(word.take()),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => {
                let next = chars.next().expect("a backslash ends the line");
                if quote.is_some() && !matches!(next, '$' | '"' | '\\' | '`') {
                    word.get_or_insert_default().push('\\');
                }
                word.get_or_insert_default().push(next);
            }
            (None | Some('"'), '$') => {
                let braced = chars.next_if_eq(&'{').is_some();
                let mut name = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    name.push(c);
                }
                if braced {
                    assert_eq!(chars.next(), Some('}'), "${{{name} without }} in {line:?}");
                }
                let value = vars(&name).unwrap_or_else(|e| panic!("in {line:?}: {e}"));
                word.get_or_insert_default().push_str(&value);
            }
            (_, c) => word.get_or_insert_default().push(c),
        }
    }
    assert!(quote.is_none(), "an unclosed quote in {line:?}");
    words.extend(word);
    words
}
