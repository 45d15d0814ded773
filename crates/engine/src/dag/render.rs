//! `esteira dag`'s renderings of a [`Dag`]: text, Graphviz dot, Mermaid.

use std::fmt::Write as _;

use super::Dag;
use crate::pipeline::Source;

impl Dag {
    /// Renders the graph as text, Graphviz dot or Mermaid.
    pub fn render(&self, format: DagFormat) -> String {
        let mut s = String::new();
        match format {
            DagFormat::Text => {
                for name in &self.order {
                    let n = &self.nodes[name];
                    let _ = writeln!(s, "{name} ({})", n.decl.kind);
                    for (input, src) in &n.decl.inputs {
                        let _ = writeln!(s, "  <- {input} = {src}");
                    }
                    for a in &n.decl.after {
                        let _ = writeln!(s, "  after {a}");
                    }
                    let outs: Vec<String> = n.stage.outputs().iter().map(esteira_core::OutputSpec::file_name).collect();
                    if !outs.is_empty() {
                        let _ = writeln!(s, "  -> {}", outs.join(", "));
                    }
                }
            }
            DagFormat::Dot => {
                let _ = writeln!(s, "digraph {:?} {{\n  rankdir=LR;\n  node [shape=box];", self.pipeline.name);
                for name in &self.order {
                    let _ = writeln!(s, "  {name:?} [label=\"{name}\\n({})\"];", self.nodes[name].decl.kind);
                }
                for name in &self.order {
                    for (input, src) in &self.nodes[name].decl.inputs {
                        match src {
                            Source::Stage { stage, output } => {
                                let _ = writeln!(s, "  {stage:?} -> {name:?} [label=\"{output}→{input}\"];");
                            }
                            Source::File(p) => {
                                let f = format!("file:{}", p.display());
                                let _ = writeln!(s, "  {f:?} [shape=note];\n  {f:?} -> {name:?} [label=\"{input}\"];");
                            }
                        }
                    }
                    for a in &self.nodes[name].decl.after {
                        let _ = writeln!(s, "  {a:?} -> {name:?} [style=dashed];");
                    }
                }
                s.push_str("}\n");
            }
            DagFormat::Mermaid => {
                s.push_str("flowchart LR\n");
                for name in &self.order {
                    let _ = writeln!(s, "  {name}[\"{name}<br/>({})\"]", self.nodes[name].decl.kind);
                }
                for name in &self.order {
                    for (input, src) in &self.nodes[name].decl.inputs {
                        if let Source::Stage { stage, output } = src {
                            let _ = writeln!(s, "  {stage} -- \"{output}→{input}\" --> {name}");
                        }
                    }
                    for a in &self.nodes[name].decl.after {
                        let _ = writeln!(s, "  {a} -.-> {name}");
                    }
                }
            }
        }
        s
    }
}

/// Output formats of `esteira dag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DagFormat {
    /// One stage per line with its inputs and outputs.
    Text,
    /// Graphviz.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}
