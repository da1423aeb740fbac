//! The Kubernetes manifests: valid against the schemas (and refused with a mistake), Indexed, one pod per shard, one claim, every command parses, and `run.sh` applies them in order.

use super::*;

#[test]
fn the_kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    if let Err(errors) = validate(&manifests()) {
        panic!("the manifests do not validate against Kubernetes {KUBERNETES}:\n{errors}");
    }
}

/// The schema check is not vacuous: one mistake in a copy is refused, and named.
///
/// (The schemas take any string as `completionMode`, so a misspelt mode is
/// not theirs to find; the next test checks the value itself.)
#[test]
fn the_schema_check_refuses_a_manifest_with_one_mistake() {
    let workers = kubernetes_dir().join("load-workers.yaml");
    let original = std::fs::read_to_string(&workers).unwrap();
    let mistakes = [
        ("  parallelism: 4\n", "  paralelism: 4\n", "paralelism"),
        ("  completions: 4\n", "  completions: four\n", "four"),
        ("subPathExpr:", "subPathExp:", "subPathExp"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (right, wrong, named) in mistakes {
        assert!(
            original.contains(right),
            "load-workers.yaml has no {right:?} to spoil"
        );
        let copy = dir.path().join("load-workers.yaml");
        std::fs::write(&copy, original.replacen(right, wrong, 1)).unwrap();
        match validate(&[copy]) {
            Ok(output) => panic!("{wrong:?} instead of {right:?} was accepted:\n{output}"),
            Err(errors) => assert!(
                errors.contains(named),
                "the refusal of {wrong:?} does not name {named:?}:\n{errors}"
            ),
        }
    }
}

#[test]
fn the_worker_job_runs_one_indexed_pod_per_shard_and_never_reruns_one() {
    let workers = resource("Job", "harness-load");
    let spec = at(&workers, "/spec");
    let count = shard_count(&workers);
    assert_eq!(text(spec, "/completionMode"), "Indexed");
    assert_eq!(
        spec["completions"], count,
        "completions must equal HARNESS_SHARD_COUNT"
    );
    assert_eq!(spec["parallelism"], count, "every worker must run at once");
    assert_eq!(
        spec["backoffLimitPerIndex"], 0,
        "a failed worker must not be rerun after the common start"
    );
    for (field, why) in [
        (
            "backoffLimit",
            "would end every worker at the first failure",
        ),
        (
            "maxFailedIndexes",
            "would end the other workers once it is reached",
        ),
    ] {
        assert!(spec.get(field).is_none(), "{field} is set: it {why}");
    }
    assert_eq!(
        text(spec, "/template/spec/restartPolicy"),
        "Never",
        "a failed worker must not restart in place either"
    );
}

#[test]
fn every_harness_command_in_the_kubernetes_manifests_parses() {
    let workers = resource("Job", "harness-load");
    let count = shard_count(&workers);
    for index in 0..count {
        let argv = kubernetes_argv(container(&workers), Some(index));
        let args = load_args(parse(&argv, "load-workers.yaml"), "load-workers.yaml");
        assert!(
            matches!(args.shard, ShardArg::Auto),
            "the workers use --shard auto"
        );
        assert_eq!(
            args.start_at,
            sample_start(),
            "--start-at comes from START_AT"
        );
        assert_eq!(
            args.report_dir,
            Some(PathBuf::from(format!("/reports/shard-{index}"))),
            "worker {index}'s report folder"
        );
        assert!(args.profile.is_some(), "every worker is given the profile");
    }
    // The workers share the run's id, which the merge holds them to; Kubernetes
    // fills `$(RUN)` in from the variable defined before it.
    let env = container_env(container(&workers));
    let run_id = env
        .get("HARNESS_RUN_ID")
        .expect("the workers share a run id (HARNESS_RUN_ID)");
    let run_id = expand(run_id, KUBERNETES_VAR, &|name| {
        env.get(name).cloned().ok_or(format!("no {name}"))
    });
    assert_eq!(
        harness::load::shard::parse_run_id(&run_id),
        Ok(run_id.clone())
    );
    let merge = resource("Job", "harness-load-merge");
    let argv = kubernetes_argv(container(&merge), None);
    let argv = match &argv[..] {
        [sh, c, script] if sh == "sh" && c == "-c" => {
            let script = script
                .strip_prefix("exec ")
                .expect("exec, so its status is the Job's");
            shell_words(script, &|name| {
                Err(format!("the merge's shell has no {name}"))
            })
        }
        _ => argv,
    };
    let args = merge_args(parse(&argv, "load-merge.yaml"), "load-merge.yaml");
    let [pattern] = &args.files[..] else {
        panic!("the merge reads the folders of one glob: {:?}", args.files);
    };
    let prefix = pattern.to_str().unwrap().strip_suffix('*').expect("a glob");
    assert_eq!(
        prefix, "/reports/shard-",
        "the merge reads every worker's folder"
    );
    assert_eq!(args.out, Some(PathBuf::from("/reports/merged")));
}

/// The claim (ReadWriteMany) and the run's folder on it, as the Job mounts them.
fn reports_mount(job: &Value) -> (String, String) {
    let mounts = at(container(job), "/volumeMounts").as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| m["mountPath"] == "/reports")
        .expect("the reports are mounted at /reports");
    let volumes = at(job, "/spec/template/spec/volumes").as_array().unwrap();
    let volume = volumes
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the /reports volume is defined");
    let claim = text(volume, "/persistentVolumeClaim/claimName").to_owned();
    let folder = text(mount, "/subPathExpr").to_owned();
    (claim, folder)
}

#[test]
fn workers_and_merge_share_one_claim_and_one_run_folder() {
    let (claim, folder) = reports_mount(&resource("Job", "harness-load"));
    assert_eq!(
        reports_mount(&resource("Job", "harness-load-merge")),
        (claim.clone(), folder),
        "the merge reads where the workers write"
    );
    let pvc = resource("PersistentVolumeClaim", &claim);
    let modes = at(&pvc, "/spec/accessModes").as_array().unwrap();
    assert!(
        modes.iter().any(|m| m == "ReadWriteMany"),
        "workers on several nodes write to the claim at once: {modes:?}"
    );
}

/// Every (ConfigMap, key) a manifest reads, through a variable or a volume.
fn config_map_keys(value: &Value, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(r) = map.get("configMapKeyRef") {
                found.push((text(r, "/name").to_owned(), text(r, "/key").to_owned()));
            }
            if let Some(volume) = map.get("configMap") {
                for item in at(volume, "/items").as_array().unwrap() {
                    let key = text(item, "/key").to_owned();
                    found.push((text(volume, "/name").to_owned(), key));
                }
            }
            map.values().for_each(|v| config_map_keys(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| config_map_keys(v, found)),
        _ => {}
    }
}

#[test]
fn run_sh_makes_what_the_manifests_read_and_applies_them_in_order() {
    let script_path = kubernetes_dir().join("run.sh");
    let status = Process::new("bash")
        .arg("-n")
        .arg(&script_path)
        .status()
        .unwrap();
    assert!(status.success(), "run.sh is not valid bash");
    let script = std::fs::read_to_string(&script_path).unwrap();
    let mut read = Vec::new();
    for file in manifests() {
        yaml(&file)
            .iter()
            .for_each(|doc| config_map_keys(doc, &mut read));
    }
    assert!(
        !read.is_empty(),
        "the workers read the run's settings from a ConfigMap"
    );
    for (map, key) in read {
        assert!(
            script.contains(&format!("create configmap {map}")),
            "run.sh does not create the ConfigMap {map}"
        );
        let given = ["--from-literal", "--from-file"]
            .iter()
            .any(|flag| script.contains(&format!("{flag}={key}=")));
        assert!(given, "run.sh does not give {map} the key {key}");
    }
    let steps = [
        "$here/reports-claim.yaml",
        "$here/load-workers.yaml",
        "ended harness-load;",
        "$here/load-merge.yaml",
        "ended harness-load-merge",
    ];
    let at: Vec<usize> = steps
        .iter()
        .map(|step| {
            script
                .find(step)
                .unwrap_or_else(|| panic!("run.sh has no {step}"))
        })
        .collect();
    assert!(at.is_sorted(), "run.sh must do {steps:?} in this order");
    for file in manifests() {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            script.contains(&format!("$here/{name}")),
            "run.sh does not apply {name}"
        );
    }
}
