//! `Handle.stats()`: the core's [`Stats`] as a Python dict, every field under its own name.
//!
//! [`figures`] is the one place that names the fields; a test holds it to the fields `Stats`
//! has (as its `Debug` output lists them), so a field added to the core cannot go missing
//! here unnoticed.

use basehttp::Stats;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// One figure of a snapshot, in the shape Python gets it.
#[derive(Debug, PartialEq)]
pub enum Figure {
    /// A count (`int`).
    Int(u64),
    /// A duration (`float`, seconds).
    Seconds(f64),
    /// A count per worker (`list[int]`).
    Ints(Vec<u64>),
    /// A name per worker (`list[str]`).
    Names(Vec<&'static str>),
    /// Named figures (`dict`).
    Map(Vec<(&'static str, Figure)>),
}

/// Every field of `s`, by name.
pub fn figures(s: &Stats) -> Vec<(&'static str, Figure)> {
    use Figure::{Int, Ints, Map, Names, Seconds};
    let count = |n: usize| Int(n as u64);
    let p = &s.parked;
    let l = &s.latency;
    vec![
        ("workers", count(s.workers)),
        ("busy_workers", count(s.busy_workers)),
        ("queue_depth", count(s.queue_depth)),
        ("queue_capacity", count(s.queue_capacity)),
        ("accepted", Int(s.accepted)),
        ("rejected", Int(s.rejected)),
        ("accept_errors", Int(s.accept_errors)),
        ("served", Int(s.served)),
        ("active_connections", Int(s.active_connections)),
        ("bytes_in", Int(s.bytes_in)),
        ("bytes_out", Int(s.bytes_out)),
        ("writes", Int(s.writes)),
        (
            "parked",
            Map(vec![
                ("idle", count(p.idle)),
                ("head", count(p.head)),
                ("body", count(p.body)),
                ("write", count(p.write)),
                ("drain", count(p.drain)),
                ("linger", count(p.linger)),
                ("stream", count(p.stream)),
                ("total", count(p.total())),
            ]),
        ),
        ("parks", Int(s.parks)),
        ("served_per_worker", Ints(s.served_per_worker.clone())),
        (
            "worker_states",
            Names(s.worker_states.iter().map(|w| w.name()).collect()),
        ),
        (
            "latency",
            Map(vec![
                ("samples", Int(l.samples)),
                ("p50", Seconds(l.p50.as_secs_f64())),
                ("p90", Seconds(l.p90.as_secs_f64())),
                ("p99", Seconds(l.p99.as_secs_f64())),
                ("window", Seconds(l.window.as_secs_f64())),
            ]),
        ),
        (
            "closes",
            Map(s.closes.iter().map(|&(r, n)| (r.name(), Int(n))).collect()),
        ),
        ("body_memory", Int(s.body_memory)),
        ("body_disk", Int(s.body_disk)),
    ]
}

/// Sets each figure in `dict`.
pub fn fill(dict: &Bound<'_, PyDict>, figures: Vec<(&'static str, Figure)>) -> PyResult<()> {
    for (name, figure) in figures {
        match figure {
            Figure::Int(n) => dict.set_item(name, n)?,
            Figure::Seconds(s) => dict.set_item(name, s)?,
            Figure::Ints(v) => dict.set_item(name, v)?,
            Figure::Names(v) => dict.set_item(name, v)?,
            Figure::Map(inner) => {
                let sub = PyDict::new(dict.py());
                fill(&sub, inner)?;
                dict.set_item(name, sub)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names at the top level of a `{:?}` struct, `Name { a: 1, b: X { .. } }`.
    fn debug_fields(text: &str) -> Vec<String> {
        let body = &text[text.find('{').expect("a struct") + 1..];
        let mut names = Vec::new();
        let (mut depth, mut word, mut at_name) = (0, String::new(), true);
        for c in body.chars() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                ',' if depth == 0 => at_name = true,
                ':' if depth == 0 && at_name => {
                    names.push(word.trim().to_owned());
                    at_name = false;
                }
                _ => {}
            }
            if c == ',' || c == ':' {
                word.clear();
            } else if at_name && depth == 0 {
                word.push(c);
            }
        }
        names
    }

    #[test]
    fn every_field_of_stats_is_a_figure() {
        let server = basehttp::Server::bind("127.0.0.1:0")
            .unwrap()
            .workers(2)
            .spawn(|_req: &mut basehttp::Request| basehttp::Response::text("ok"))
            .unwrap();
        let stats = server.stats();
        server.shutdown();
        let fields = debug_fields(&format!("{stats:?}"));
        assert!(fields.len() >= 20, "{fields:?}");
        let names: Vec<&str> = figures(&stats).iter().map(|(name, _)| *name).collect();
        assert_eq!(names, fields);
        // And inside: every parked kind and latency figure (`total` is added).
        let parked = debug_fields(&format!("{:?}", stats.parked));
        let latency = debug_fields(&format!("{:?}", stats.latency));
        for (name, figure) in figures(&stats) {
            let Figure::Map(inner) = figure else { continue };
            let inner: Vec<&str> = inner.iter().map(|(n, _)| *n).collect();
            match name {
                "parked" => assert_eq!(inner[..inner.len() - 1], parked[..]),
                "latency" => assert_eq!(inner, latency),
                "closes" => assert_eq!(inner.len(), basehttp::CloseReason::ALL.len()),
                _ => panic!("an unexpected map {name}"),
            }
        }
        let states = figures(&stats)
            .into_iter()
            .find(|(name, _)| *name == "worker_states");
        assert_eq!(
            states.map(|(_, f)| f),
            Some(Figure::Names(vec!["idle", "idle"]))
        );
    }
}
