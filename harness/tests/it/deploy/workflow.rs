//! The GitHub Actions example: every harness command parses for every shard, every shard's report is kept, and the merge runs after a failure.

use super::*;

/// The workflow, read from `fixtures/deploy/github-actions.yml`.
fn workflow() -> Value {
    let mut docs = yaml(&deploy_dir().join("github-actions.yml"));
    assert_eq!(docs.len(), 1, "one workflow");
    let mut workflow = docs.remove(0);
    // PyYAML reads YAML 1.1, where a bare `on` is the boolean true.
    let map = workflow.as_object_mut().expect("the workflow is a mapping");
    if let Some(on) = map.remove("true") {
        map.insert("on".to_owned(), on);
    }
    workflow
}

/// The value a run gives a GitHub expression: the input's default, a
/// sample for what a run picks, `shard` for the matrix.
fn github_context(workflow: &Value, name: &str, shard: Option<&Value>) -> Result<String, String> {
    if let Some(input) = name.strip_prefix("inputs.") {
        let inputs = at(workflow, "/on/workflow_dispatch/inputs");
        return Ok(match inputs[input]["default"].as_str() {
            Some(default) => default.to_owned(),
            None => "http://streams.example:8080".to_owned(),
        });
    }
    match (name, shard) {
        ("matrix.shard", Some(shard)) => Ok(shard.to_string()),
        ("needs.prepare.outputs.start-at", _) => Ok(SAMPLE_START.to_owned()),
        ("github.run_id", _) => Ok("7712345678".to_owned()),
        ("github.run_attempt", _) => Ok("1".to_owned()),
        _ => Err(format!("no sample value for the expression {name}")),
    }
}

/// The `harness` command lines of `job`'s steps (lines that start with `harness` or
/// `exec harness`), as argv, for matrix value `shard`.
fn workflow_commands(workflow: &Value, job: &str, shard: Option<&Value>) -> Vec<Vec<String>> {
    let job = at(workflow, &format!("/jobs/{job}"));
    let context = |name: &str| github_context(workflow, name, shard);
    let mut commands = Vec::new();
    for step in at(job, "/steps").as_array().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let mut env = BTreeMap::new();
        for scope in [&workflow["env"], &job["env"], &step["env"]] {
            for (name, value) in scope.as_object().into_iter().flatten() {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                env.insert(name.clone(), expand(&value, GITHUB, &context));
            }
        }
        let vars = |name: &str| {
            let missing = || format!("the step's env has no {name}");
            env.get(name).cloned().ok_or_else(missing)
        };
        let script = expand(script, GITHUB, &context).replace("\\\n", " ");
        for line in script.lines() {
            let line = line.trim_start();
            let line = line.strip_prefix("exec ").unwrap_or(line);
            if line.starts_with("harness ") {
                commands.push(shell_words(line, &vars));
            }
        }
    }
    commands
}

#[test]
fn every_harness_command_in_the_workflow_parses_for_every_shard() {
    let workflow = workflow();
    let matrix = at(&workflow, "/jobs/load/strategy/matrix/shard")
        .as_array()
        .unwrap();
    let mut counts = Vec::new();
    for shard in matrix {
        let commands = workflow_commands(&workflow, "load", Some(shard));
        assert_eq!(
            commands.len(),
            1,
            "one harness command per shard: {commands:?}"
        );
        let whence = format!("github-actions.yml, shard {shard}");
        let args = load_args(parse(&commands[0], &whence), &whence);
        let ShardArg::Given(given) = args.shard else {
            panic!("{whence}: the shard is given as i/N");
        };
        assert_eq!(
            Some(&Value::from(given.index)),
            Some(shard),
            "{whence}: --shard"
        );
        assert_eq!(
            args.start_at,
            sample_start(),
            "{whence}: the common --start-at"
        );
        counts.push(given.count);
    }
    let count = counts[0];
    assert!(
        counts.iter().all(|&c| c == count),
        "one N for every shard: {counts:?}"
    );
    let run_id = at(&workflow, "/jobs/load/steps")
        .as_array()
        .unwrap()
        .iter()
        .find_map(|step| step["env"]["HARNESS_RUN_ID"].as_str())
        .expect("the shards share a run id (HARNESS_RUN_ID), which the merge holds them to");
    let run_id = expand(run_id, GITHUB, &|name| {
        github_context(&workflow, name, None)
    });
    assert_eq!(
        harness::load::shard::parse_run_id(&run_id),
        Ok(run_id.clone())
    );
    let every: Vec<Value> = (0..count).map(Value::from).collect();
    assert_eq!(
        matrix, &every,
        "the matrix covers the shards 0..{count} of the /{count} its command names"
    );
    let commands = workflow_commands(&workflow, "merge", None);
    assert_eq!(
        commands.len(),
        1,
        "one harness command in the merge job: {commands:?}"
    );
    let args = merge_args(parse(&commands[0], "the merge job"), "the merge job");
    assert!(
        args.out.is_some(),
        "the merge writes to a known folder, which it uploads"
    );
}

/// Whether a job's or step's `if` lets it run after a failure.
fn runs_after_failure(value: &Value) -> bool {
    value["if"]
        .as_str()
        .is_some_and(|cond| cond.contains("always()"))
}

#[test]
fn the_workflow_keeps_every_shards_report_and_merges_after_a_failure() {
    let workflow = workflow();
    let load = at(&workflow, "/jobs/load");
    assert_eq!(
        load["strategy"]["fail-fast"], false,
        "one failed shard must not cancel the others"
    );
    assert!(
        load["strategy"]["max-parallel"].is_null(),
        "every shard runs at once"
    );
    let steps = at(load, "/steps").as_array().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("each shard uploads its report folder");
    assert!(
        runs_after_failure(upload),
        "a shard's report is uploaded when its run failed too"
    );
    let name = text(upload, "/with/name");
    let prefix = &name[..name.find("${{").expect("one artifact per shard")];

    let merge = at(&workflow, "/jobs/merge");
    let needs = at(merge, "/needs").as_array().unwrap();
    assert!(
        needs.contains(&Value::from("load")),
        "the merge waits for the shards"
    );
    assert!(
        runs_after_failure(merge),
        "the merge runs when a shard failed"
    );
    let steps = at(merge, "/steps").as_array().unwrap();
    let downloads_every_shard = steps
        .iter()
        .any(|s| s["with"]["pattern"] == format!("{prefix}*"));
    assert!(
        downloads_every_shard,
        "the merge downloads every {prefix}* artifact"
    );
    let merging = steps
        .iter()
        .position(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("harness report merge"))
        })
        .expect("a step runs harness report merge");
    assert!(
        steps[merging].get("continue-on-error").is_none(),
        "the merge's exit status must fail the workflow"
    );
    for later in &steps[merging + 1..] {
        assert!(
            runs_after_failure(later),
            "{later} must run when the merge exits 1"
        );
    }
}
