//! The DAG: stages built from the registry, edges from input bindings, validated
//! (`dag/render.rs`: the text, dot and Mermaid renderings).

mod render;

pub use render::DagFormat;

use std::collections::{BTreeMap, BTreeSet};

use esteira_core::{CoreError, Registry, Stage};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::EngineError;
use crate::pipeline::{Pipeline, Source, StageDecl};

/// One node: the declaration and the built stage.
pub struct Node {
    /// As declared in the pipeline file.
    pub decl: StageDecl,
    /// Built from the registry.
    pub stage: Box<dyn Stage>,
}

/// A validated pipeline graph.
pub struct Dag {
    /// The pipeline file.
    pub pipeline: Pipeline,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Stage names in a deterministic topological order.
    pub order: Vec<String>,
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
}

impl Dag {
    /// Builds every stage and validates bindings; a cycle is reported with its path.
    pub fn build(pipeline: Pipeline, registry: &Registry) -> Result<Self, EngineError> {
        let file = pipeline.path.clone();
        let perr =
            |line: usize, message: String| EngineError::Pipeline { file: file.clone(), line, column: None, message };
        let mut nodes = BTreeMap::new();
        for decl in pipeline.stages.values() {
            let stage = registry.build(&decl.kind, decl.params.clone()).map_err(|e| match e {
                CoreError::Param { key, message, .. } if key == "kind" => {
                    perr(decl.line, format!("stage `{}`: kind `{}`: {message}", decl.name, decl.kind))
                }
                CoreError::Param { key, message, .. } => {
                    let (line, column) = pipeline.param_position(decl, &key);
                    EngineError::Pipeline {
                        file: file.clone(),
                        line,
                        column,
                        message: format!("stage `{}` (kind `{}`): param `{key}`: {message}", decl.name, decl.kind),
                    }
                }
                other => perr(decl.line, format!("stage `{}`: {other}", decl.name)),
            })?;
            nodes.insert(decl.name.clone(), Node { decl: decl.clone(), stage });
        }
        let names: Vec<&str> = nodes.keys().map(String::as_str).collect();
        for node in nodes.values() {
            let d = &node.decl;
            let wanted: BTreeSet<String> = node.stage.inputs().into_iter().collect();
            for w in &wanted {
                if !d.inputs.contains_key(w) {
                    return Err(perr(
                        d.line,
                        format!(
                            "stage `{}` (kind `{}`) needs input `{w}`: add it to `inputs = {{ … }}`",
                            d.name, d.kind
                        ),
                    ));
                }
            }
            for (input, src) in &d.inputs {
                let line = d.input_lines.get(input).copied().unwrap_or(d.line);
                if !wanted.contains(input) {
                    let known = if wanted.is_empty() {
                        "none".to_owned()
                    } else {
                        wanted.iter().cloned().collect::<Vec<_>>().join(", ")
                    };
                    return Err(perr(
                        line,
                        format!("stage `{}` (kind `{}`) has no input `{input}` (its inputs: {known})", d.name, d.kind),
                    ));
                }
                if let Source::Stage { stage, output } = src {
                    let Some(up) = nodes.get(stage) else {
                        return Err(perr(
                            line,
                            format!(
                                "stage `{}`: input `{input}` names unknown stage `{stage}` (stages: {})",
                                d.name,
                                names.join(", ")
                            ),
                        ));
                    };
                    let outs = up.stage.outputs();
                    if !outs.iter().any(|o| &o.name == output) {
                        let known = outs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ");
                        return Err(perr(
                            line,
                            format!(
                                "stage `{}`: input `{input}` names unknown output `{stage}.{output}` (`{stage}` has: {known})",
                                d.name
                            ),
                        ));
                    }
                }
            }
            for a in &d.after {
                if !nodes.contains_key(a) {
                    return Err(perr(d.line, format!("stage `{}`: `after` names unknown stage `{a}`", d.name)));
                }
            }
        }
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for name in nodes.keys() {
            index.insert(name.clone(), graph.add_node(name.clone()));
        }
        let down = downstream_edges(&nodes);
        for (up, consumers) in &down {
            for m in consumers {
                graph.update_edge(index[*up], index[*m], ());
            }
        }
        if let Some(cycle) = find_cycle(&down) {
            return Err(EngineError::Cycle { file: pipeline.path.clone(), cycle: cycle.join(" -> ") });
        }
        let order = topo_order(&down);
        Ok(Self { pipeline, nodes, order, graph, index })
    }

    /// Direct upstream stages of a stage.
    pub fn upstream(&self, name: &str) -> Vec<String> {
        self.graph
            .neighbors_directed(self.index[name], petgraph::Direction::Incoming)
            .map(|i| self.graph[i].clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Direct downstream stages of a stage.
    pub fn downstream(&self, name: &str) -> Vec<String> {
        self.graph
            .neighbors_directed(self.index[name], petgraph::Direction::Outgoing)
            .map(|i| self.graph[i].clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// A stage and everything upstream of it.
    pub fn ancestors_of(&self, name: &str) -> BTreeSet<String> {
        self.closure(name, petgraph::Direction::Incoming)
    }

    /// A stage and everything downstream of it.
    pub fn descendants_of(&self, name: &str) -> BTreeSet<String> {
        self.closure(name, petgraph::Direction::Outgoing)
    }

    fn closure(&self, name: &str, dir: petgraph::Direction) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.to_owned()];
        while let Some(n) = stack.pop() {
            if seen.insert(n.clone()) {
                for m in self.graph.neighbors_directed(self.index[&n], dir) {
                    stack.push(self.graph[m].clone());
                }
            }
        }
        seen
    }

    /// Checks that a stage name exists, for `--force`, `--until`, `--only`.
    pub fn require(&self, name: &str, flag: &str) -> Result<(), EngineError> {
        if self.nodes.contains_key(name) {
            Ok(())
        } else {
            Err(EngineError::Usage(format!(
                "{flag} {name}: no such stage in {} (stages: {})",
                self.pipeline.path.display(),
                self.order.join(", ")
            )))
        }
    }
}

fn upstream_of(d: &StageDecl) -> BTreeSet<String> {
    let mut up: BTreeSet<String> = d
        .inputs
        .values()
        .filter_map(|s| match s {
            Source::Stage { stage, .. } => Some(stage.clone()),
            Source::File(_) => None,
        })
        .collect();
    up.extend(d.after.iter().cloned());
    up
}

/// Every stage's direct consumers, in name order: the edges the cycle search and the
/// topological sort walk (built once, so both are linear in stages and edges).
fn downstream_edges(nodes: &BTreeMap<String, Node>) -> BTreeMap<&str, Vec<&str>> {
    let mut down: BTreeMap<&str, Vec<&str>> = nodes.keys().map(|k| (k.as_str(), Vec::new())).collect();
    for (m, node) in nodes {
        for up in upstream_of(&node.decl) {
            if let Some(consumers) = down.get_mut(up.as_str()) {
                consumers.push(m.as_str());
            }
        }
    }
    down
}

fn find_cycle(down: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    // Colour DFS; on a back edge, the stack from the target to here is the cycle.
    fn visit<'a>(
        n: &'a str,
        down: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        // Follow edges downstream: from n to every stage that consumes it.
        for &m in down.get(n).map(Vec::as_slice).unwrap_or_default() {
            match state.get(m).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(m, down, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let start = stack.iter().position(|s| *s == m).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[start..].iter().map(|s| (*s).to_owned()).collect();
                    cycle.push(m.to_owned());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in down.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, down, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn topo_order(down: &BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    // A stage's in-degree is how many consumer lists name it (its distinct upstream stages).
    let mut indeg: BTreeMap<&str, usize> = down.keys().map(|k| (*k, 0)).collect();
    for &m in down.values().flatten() {
        *indeg.entry(m).or_default() += 1;
    }
    let mut ready: BTreeSet<&str> = indeg.iter().filter(|(_, d)| **d == 0).map(|(k, _)| *k).collect();
    let mut order = Vec::new();
    while let Some(n) = ready.pop_first() {
        for &m in down.get(n).map(Vec::as_slice).unwrap_or_default() {
            let d = indeg.get_mut(m).map(|d| {
                *d -= 1;
                *d
            });
            if d == Some(0) {
                ready.insert(m);
            }
        }
        order.push(n.to_owned());
    }
    order
}
