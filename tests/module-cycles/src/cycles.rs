//! Sibling graphs and their cycles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::tree::{Crate, ModPath};

/// Every cycle among siblings in `krate`, each as module paths `a → b → a`.
pub fn find(krate: &Crate) -> Vec<Vec<String>> {
    // parent -> (sibling -> siblings it references)
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in &krate.references {
        let Some(target) = resolve(&krate.modules, to) else {
            continue;
        };
        let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
        // One is an ancestor of the other (or the same module): the tree, not a cycle.
        if common == from.len() || common == target.len() {
            continue;
        }
        graphs
            .entry(from[..common].to_vec())
            .or_default()
            .entry(from[common].clone())
            .or_default()
            .insert(target[common].clone());
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        for component in strongly_connected(graph) {
            if let Some(cycle) = shortest_cycle(graph, &component) {
                let named = cycle
                    .iter()
                    .map(|m| {
                        parent
                            .iter()
                            .chain([m])
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("::")
                    })
                    .collect();
                cycles.push(named);
            }
        }
    }
    cycles
}

/// The longest prefix of `path` that is a module.
fn resolve(modules: &BTreeSet<ModPath>, path: &ModPath) -> Option<ModPath> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// Components of more than one node (Tarjan's algorithm, recursive: module graphs are small).
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    #[derive(Default)]
    struct State<'g> {
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'g>(g: &'g BTreeMap<String, BTreeSet<String>>, v: &'g str, s: &mut State<'g>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(g, w, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut state = State::default();
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(graph, v, &mut state);
        }
    }
    state.out
}

/// The shortest cycle through the component's first node, staying inside the component.
fn shortest_cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    component: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let start = component.iter().next()?;
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start.as_str()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flatten() {
            if !component.contains(w) {
                continue;
            }
            if w == start {
                // Walk back from `v` to the start, then read it forwards.
                let mut back = vec![v.to_string()];
                let mut at = v;
                while at != start {
                    at = came_from[at];
                    back.push(at.to_string());
                }
                back.reverse();
                back.push(start.clone());
                return Some(back);
            }
            if !came_from.contains_key(w.as_str()) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(refs: &[(&str, &str)]) -> Crate {
        let split = |p: &str| -> ModPath {
            p.split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let mut k = Crate::default();
        for (from, to) in refs {
            for p in [split(from), split(to)] {
                for n in 0..=p.len() {
                    k.modules.insert(p[..n].to_vec());
                }
            }
            k.references.push((split(from), split(to)));
        }
        k
    }

    #[test]
    fn two_siblings_that_use_each_other_are_a_cycle() {
        let k = krate(&[("store::jobs", "user"), ("user", "store")]);
        assert_eq!(find(&k), vec![vec!["store", "user", "store"]]);
    }

    #[test]
    fn a_chain_back_to_the_start_is_a_cycle() {
        let k = krate(&[("a", "b::x"), ("b", "c"), ("c::d", "a")]);
        let found = find(&k);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].first(), found[0].last());
        assert_eq!(found[0].len(), 4);
    }

    #[test]
    fn parents_and_children_may_use_each_other() {
        let k = krate(&[
            ("store", "store::jobs"),
            ("store::jobs", "store"),
            ("a", "b"),
        ]);
        assert!(find(&k).is_empty());
    }

    #[test]
    fn nested_siblings_are_reported_with_their_parent() {
        let k = krate(&[("s::a", "s::b"), ("s::b", "s::a")]);
        assert_eq!(find(&k), vec![vec!["s::a", "s::b", "s::a"]]);
    }
}
