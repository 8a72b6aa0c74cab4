//! Component dependencies (`[component.x.dependencies]`), linked at load time as Spin
//! does: each dependency's exports are plugged into the matching imports of the component,
//! with the wac-graph library that `wac plug` is built on.

use anyhow::{Context, Result, anyhow};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// Returns the component with every dependency plugged in.
pub fn plug(socket: &[u8], plugs: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("socket", None, socket.to_vec(), graph.types_mut())
        .context("reading the component")?;
    let socket = graph.register_package(socket)?;
    let mut ids = Vec::new();
    for (i, (name, bytes)) in plugs.iter().enumerate() {
        let package =
            Package::from_bytes(&format!("plug{i}"), None, bytes.clone(), graph.types_mut())
                .with_context(|| format!("reading dependency {name}"))?;
        ids.push(graph.register_package(package)?);
    }
    wac_graph::plug(&mut graph, ids, socket).map_err(|e| anyhow!("linking dependencies: {e:#}"))?;
    // Not validated here: `Component::new` validates what it compiles, and a composition
    // whose compiled form is cached was validated when it was compiled. Validating it at
    // every start cost most of a start's CPU.
    Ok(graph.encode(EncodeOptions {
        validate: false,
        ..EncodeOptions::default()
    })?)
}
