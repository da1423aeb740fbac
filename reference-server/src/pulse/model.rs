//! Model declarations: which models exist, their primary key and replica identity, kept in the store's KV space.
//!
//! Models come from the config file and from `POST /_control/pulse/models`.
//! The ones declared through the control API are stored (namespace
//! `pulse.models`), so they survive a restart; the config's are read at every
//! start and win over a stored declaration of the same name.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::config::{ModelDecl, PulseConfig};
use crate::log::Log;

/// KV namespace: model name → JSON [`ModelDecl`].
pub const MODELS_NS: &str = "pulse.models";
/// The longest model name or primary key, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// The KV namespace holding the rows of `model`, keyed by the JSON text of their primary key.
pub fn rows_namespace(model: &str) -> String {
    format!("pulse.rows.{model}")
}

/// Model names appear in paths and KV namespaces: non-empty, at most
/// [`MAX_NAME_BYTES`], no `/`, no control characters. Primary keys are
/// non-empty field names of the same length.
pub fn validate(decl: &ModelDecl) -> Result<(), String> {
    let name = &decl.name;
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a model name has 1 to {MAX_NAME_BYTES} bytes, not {}",
            name.len()
        ));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(format!(
            "the model name {name:?} contains '/' or a control character"
        ));
    }
    let key = &decl.primary_key;
    if key.is_empty() || key.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a primary key has 1 to {MAX_NAME_BYTES} bytes, not {}",
            key.len()
        ));
    }
    Ok(())
}

/// The stored declarations, overlaid by the config's.
pub fn load(config: &PulseConfig, store: &Log) -> anyhow::Result<BTreeMap<String, ModelDecl>> {
    let mut models = BTreeMap::new();
    for (name, value) in store
        .kv_scan(MODELS_NS)
        .context("reading the pulse models")?
    {
        let decl: ModelDecl = serde_json::from_slice(&value)
            .with_context(|| format!("the stored pulse model {name:?} is not a declaration"))?;
        models.insert(name, decl);
    }
    for decl in &config.models {
        validate(decl).map_err(|reason| anyhow::anyhow!("pulse model in the config: {reason}"))?;
        if let Some(stored) = models.get(&decl.name)
            && stored != decl
        {
            tracing::warn!(model = %decl.name, "the config's declaration of this pulse model replaces the stored one");
        }
        models.insert(decl.name.clone(), decl.clone());
    }
    Ok(models)
}
