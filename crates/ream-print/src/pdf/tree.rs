//! Counting pages as the leaves of the page tree (ISO 32000-1 §7.7.3), never as the
//! `/Count` the root declares: a document that says it has one page and lists fifty
//! prints fifty.
//!
//! Promises: the walk uses an explicit stack, so no tree recurses it off the thread's
//! stack; a node met twice (a loop in `/Kids`, or a page listed twice) is refused as
//! damage; the tree is read at most [`MAX_DEPTH`] levels deep and at most
//! [`MAX_OBJECTS`] nodes in all.

use super::objects::Objects;
use super::syntax::{Obj, Ref};
use super::{Count, Refusal, MAX_DEPTH, MAX_OBJECTS};
use std::collections::HashSet;

enum Node {
    Page,
    Pages { kids: Kids, count: Option<Declared> },
    Missing,
    Other,
}

enum Kids {
    Listed(Vec<Ref>),
    Elsewhere(Ref),
}

enum Declared {
    Direct(i64),
    Elsewhere(Ref),
}

fn refs(items: &[Obj]) -> Vec<Ref> {
    // Anything that is not a reference cannot be a page: the tree holds only indirect
    // dictionaries.
    items.iter().filter_map(|o| if let Obj::Ref(r) = o { Some(*r) } else { None }).collect()
}

fn node(object: &Obj) -> Node {
    let Obj::Dict(d) = object else {
        return if matches!(object, Obj::Null) { Node::Missing } else { Node::Other };
    };
    let kids = match d.get(b"Kids") {
        Some(Obj::Array(items)) => Some(Kids::Listed(refs(items))),
        Some(Obj::Ref(r)) => Some(Kids::Elsewhere(*r)),
        _ => None,
    };
    let count = match d.get(b"Count") {
        Some(Obj::Int(n)) => Some(Declared::Direct(*n)),
        Some(Obj::Ref(r)) => Some(Declared::Elsewhere(*r)),
        _ => None,
    };
    // Writers that leave out /Type still mean a node with kids as a node and one
    // without as a page.
    match kids {
        Some(kids) if !d.is_type(b"Page") => Node::Pages { kids, count },
        _ if d.is_type(b"Pages") => Node::Pages { kids: Kids::Listed(Vec::new()), count },
        _ if d.is_type(b"Page") || !d.has(b"Type") => Node::Page,
        _ => Node::Other,
    }
}

/// The pages of the tree whose root the catalog `catalog` names.
pub(super) fn count(objects: &mut Objects, catalog: Ref) -> Result<Count, Refusal> {
    let pages = match objects.with(catalog, |o| o.dict().map(|d| d.reference(b"Pages")))? {
        None => return Err(Refusal::Damaged("its catalog is missing".into())),
        Some(None) => return Err(Refusal::Damaged("its catalog has no page tree".into())),
        Some(Some(pages)) => pages,
    };
    let mut declared = None;
    let mut leaves = 0u64;
    let mut seen = HashSet::new();
    let mut stack = vec![(pages, 0usize)];
    while let Some((r, depth)) = stack.pop() {
        if !seen.insert(r.num) {
            return Err(Refusal::Damaged(format!(
                "its page tree reaches object {} twice (a loop in /Kids, or a page listed twice)",
                r.num
            )));
        }
        objects.work.spend(1)?;
        match objects.with(r, node)? {
            Node::Page => leaves += 1,
            Node::Pages { kids, count } => {
                if depth == 0 {
                    declared = match count {
                        Some(Declared::Direct(n)) => Some(n),
                        Some(Declared::Elsewhere(c)) => objects.with(c, |o| match o {
                            Obj::Int(n) => Some(*n),
                            _ => None,
                        })?,
                        None => None,
                    };
                }
                if depth == MAX_DEPTH {
                    return Err(Refusal::TooComplex(format!(
                        "its page tree is nested more than {MAX_DEPTH} levels deep"
                    )));
                }
                let kids = match kids {
                    Kids::Listed(kids) => kids,
                    Kids::Elsewhere(a) => objects.with(a, |o| match o {
                        Obj::Array(items) => refs(items),
                        _ => Vec::new(),
                    })?,
                };
                stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
                if seen.len() + stack.len() > MAX_OBJECTS {
                    return Err(Refusal::TooComplex(format!(
                        "its page tree has more than {MAX_OBJECTS} nodes"
                    )));
                }
            }
            Node::Missing => {
                return Err(Refusal::Damaged(format!(
                    "its page tree refers to object {}, which is missing",
                    r.num
                )))
            }
            Node::Other => {
                return Err(Refusal::Damaged(format!(
                    "its page tree holds object {}, which is not a page",
                    r.num
                )))
            }
        }
    }
    if leaves == 0 {
        return Err(Refusal::NoPages);
    }
    Ok(Count { pages: leaves, declared })
}
