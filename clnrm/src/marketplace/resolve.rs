//! Dependency resolution: the newest non-yanked version of each plugin that satisfies every
//! requirement on it and supports this clnrm, with backtracking; one version per name.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};

use super::MarketError;
use super::index::IndexLine;
use super::manifest::this_clnrm;

/// Resolves `roots` against `available` (every version of every reachable plugin). `locked`
/// versions are preferred (and may be yanked). Returns the chosen line per name.
pub fn resolve(
    roots: &[(String, VersionReq)],
    available: &BTreeMap<String, Vec<IndexLine>>,
    locked: &BTreeMap<String, Version>,
) -> Result<BTreeMap<String, IndexLine>, MarketError> {
    let clnrm = this_clnrm();
    let mut candidates: BTreeMap<&str, Vec<(Version, &IndexLine)>> = BTreeMap::new();
    for (name, lines) in available {
        let mut list: Vec<(Version, &IndexLine)> = lines
            .iter()
            .filter_map(|l| l.version().map(|v| (v, l)))
            .filter(|(_, l)| VersionReq::parse(&l.clnrm).is_ok_and(|r| r.matches(&clnrm)))
            .filter(|(v, l)| !l.yanked || locked.get(name) == Some(v))
            .collect();
        list.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(lv) = locked.get(name)
            && let Some(pos) = list.iter().position(|(v, _)| v == lv)
        {
            let item = list.remove(pos);
            list.insert(0, item);
        }
        candidates.insert(name, list);
    }
    if let Some(found) = learn_constraints(roots, &candidates) {
        return Ok(found);
    }
    let mut pending: Vec<(String, VersionReq, String)> = roots
        .iter()
        .map(|(n, r)| (n.clone(), r.clone(), "the command line".to_owned()))
        .collect();
    pending.reverse();
    let mut chosen = BTreeMap::new();
    let mut budget = 100_000u32;
    solve(&candidates, &mut chosen, &mut pending, &mut budget)?;
    Ok(chosen
        .into_iter()
        .map(|(n, l): (String, &IndexLine)| (n, l.clone()))
        .collect())
}

/// The fast path: choose the newest candidate that meets every requirement seen so far on its
/// name; when a later requirement rules a choice out, learn it and start over (requirements only
/// accumulate, so this ends). Returns a selection only if every requirement of the result holds;
/// `None` sends the caller to the complete backtracking search.
fn learn_constraints(
    roots: &[(String, VersionReq)],
    candidates: &BTreeMap<&str, Vec<(Version, &IndexLine)>>,
) -> Option<BTreeMap<String, IndexLine>> {
    let mut learned: BTreeMap<String, Vec<VersionReq>> = BTreeMap::new();
    for _ in 0..=candidates.len() * 4 + 4 {
        let mut chosen: BTreeMap<String, &IndexLine> = BTreeMap::new();
        let mut queue: std::collections::VecDeque<(String, VersionReq)> =
            roots.iter().cloned().collect();
        let mut restart = false;
        while let Some((name, req)) = queue.pop_front() {
            let reqs = learned.entry(name.clone()).or_default();
            if !reqs.contains(&req) {
                reqs.push(req.clone());
            }
            if let Some(line) = chosen.get(&name) {
                if req.matches(&line.version()?) {
                    continue;
                }
                restart = true; // learned: the earlier choice cannot stay
                break;
            }
            let pick = candidates
                .get(name.as_str())?
                .iter()
                .find(|(v, _)| learned[&name].iter().all(|r| r.matches(v)))?;
            chosen.insert(name.clone(), pick.1);
            for dep in &pick.1.deps {
                queue.push_back((dep.name.clone(), VersionReq::parse(&dep.req).ok()?));
            }
        }
        if !restart {
            return Some(chosen.into_iter().map(|(n, l)| (n, l.clone())).collect());
        }
    }
    None
}

fn solve<'a>(
    candidates: &BTreeMap<&str, Vec<(Version, &'a IndexLine)>>,
    chosen: &mut BTreeMap<String, &'a IndexLine>,
    pending: &mut Vec<(String, VersionReq, String)>,
    budget: &mut u32,
) -> Result<(), MarketError> {
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| MarketError::Resolve("gave up after 100000 steps".to_owned()))?;
    let Some((name, req, from)) = pending.pop() else {
        return Ok(());
    };
    if let Some(line) = chosen.get(&name) {
        let v = line.version().expect("filtered");
        if req.matches(&v) {
            let r = solve(candidates, chosen, pending, budget);
            if r.is_err() {
                pending.push((name, req, from));
            }
            return r;
        }
        pending.push((name.clone(), req.clone(), from.clone()));
        return Err(MarketError::Resolve(format!(
            "{from} needs {name} {req}, but {name} {v} was chosen for another requirement"
        )));
    }
    let options = candidates
        .get(name.as_str())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut last_error = None;
    for (v, line) in options.iter().filter(|(v, _)| req.matches(v)) {
        chosen.insert(name.clone(), line);
        let before = pending.len();
        for dep in line.deps.iter().rev() {
            let dreq = VersionReq::parse(&dep.req).map_err(|e| {
                MarketError::Resolve(format!("{name} {v}: bad requirement `{}`: {e}", dep.req))
            })?;
            pending.push((dep.name.clone(), dreq, format!("{name} {v}")));
        }
        match solve(candidates, chosen, pending, budget) {
            Ok(()) => return Ok(()),
            Err(e) => {
                pending.truncate(before);
                chosen.remove(&name);
                last_error = Some(e);
            }
        }
    }
    pending.push((name.clone(), req.clone(), from.clone()));
    Err(last_error.unwrap_or_else(|| {
        let have: Vec<String> = options.iter().map(|(v, _)| v.to_string()).collect();
        MarketError::Resolve(if options.is_empty() {
            format!(
                "{from} needs {name} {req}, but the index has no version of {name} for clnrm {}",
                this_clnrm()
            )
        } else {
            format!("{from} needs {name} {req}; available: {}", have.join(", "))
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketplace::index::Dep;

    fn line(name: &str, vers: &str, deps: &[(&str, &str)]) -> IndexLine {
        IndexLine {
            v: 1,
            name: name.into(),
            vers: vers.into(),
            cksum: String::new(),
            len: 0,
            publisher: String::new(),
            clnrm: "*".into(),
            image: "x".into(),
            deps: deps
                .iter()
                .map(|(n, r)| Dep {
                    name: (*n).into(),
                    req: (*r).into(),
                })
                .collect(),
            description: String::new(),
            categories: vec![],
            tags: vec![],
            yanked: false,
        }
    }

    #[test]
    fn backtracks_to_a_version_whose_dependencies_fit() {
        let mut available = BTreeMap::new();
        available.insert("app".into(), vec![line("app", "1.0.0", &[("db", "^1")])]);
        available.insert(
            "db".into(),
            vec![
                line("db", "1.0.0", &[("os", "^1")]),
                line("db", "1.1.0", &[("os", "^2")]),
            ],
        );
        available.insert("os".into(), vec![line("os", "1.0.0", &[])]);
        let out = resolve(
            &[("app".into(), VersionReq::STAR)],
            &available,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(out["db"].vers, "1.0.0");
        assert_eq!(out["os"].vers, "1.0.0");
    }

    #[test]
    fn yanked_versions_are_skipped_unless_locked() {
        let mut available = BTreeMap::new();
        let mut y = line("a", "1.1.0", &[]);
        y.yanked = true;
        available.insert("a".into(), vec![line("a", "1.0.0", &[]), y]);
        let roots = [("a".to_owned(), VersionReq::STAR)];
        assert_eq!(
            resolve(&roots, &available, &BTreeMap::new()).unwrap()["a"].vers,
            "1.0.0"
        );
        let locked = BTreeMap::from([("a".to_owned(), Version::new(1, 1, 0))]);
        assert_eq!(
            resolve(&roots, &available, &locked).unwrap()["a"].vers,
            "1.1.0"
        );
    }

    #[test]
    fn a_chain_of_newer_majors_resolves_without_exhaustive_backtracking() {
        // p_i depends on p_{i-1} ^1 and every p_i is also a root: the roots' newest (2.0.0)
        // must give way to 1.x for all but the last.
        let mut available = BTreeMap::new();
        for i in 0..30 {
            let deps: Vec<(String, &str)> = if i > 0 {
                vec![(format!("p{}", i - 1), "^1")]
            } else {
                vec![]
            };
            let deps: Vec<(&str, &str)> = deps.iter().map(|(n, r)| (n.as_str(), *r)).collect();
            let name = format!("p{i}");
            available.insert(
                name.clone(),
                ["1.0.0", "1.1.0", "2.0.0"]
                    .iter()
                    .map(|v| line(&name, v, &deps))
                    .collect(),
            );
        }
        let roots: Vec<(String, VersionReq)> = (0..30)
            .map(|i| (format!("p{i}"), VersionReq::STAR))
            .collect();
        let out = resolve(&roots, &available, &BTreeMap::new()).unwrap();
        assert_eq!(out["p29"].vers, "2.0.0");
        assert_eq!(out["p0"].vers, "1.1.0");
    }

    #[test]
    fn a_conflict_names_the_chain() {
        let mut available = BTreeMap::new();
        available.insert("a".into(), vec![line("a", "1.0.0", &[("c", "^2")])]);
        available.insert("c".into(), vec![line("c", "1.0.0", &[])]);
        let err = resolve(
            &[("a".into(), VersionReq::STAR)],
            &available,
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resolve: a 1.0.0 needs c ^2; available: 1.0.0"
        );
    }
}
