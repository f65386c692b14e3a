//! Processes as `/proc` shows them: a process and everything it started, and what each
//! holds in memory.

/// One process's memory, in KiB: resident (`Rss`, shared pages counted in full) and its
/// proportional share (`Pss`, shared pages divided among the processes that map them; the
/// sum over processes is what they hold together).
#[derive(Debug, Clone)]
pub struct Memory {
    pub pid: u32,
    pub name: String,
    pub rss_kib: u64,
    pub pss_kib: u64,
}

/// `pid` and its descendants, parents first.
pub fn tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, parent(p)?)))
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let at = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == at).map(|(p, _)| *p));
        i += 1;
    }
    found
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The short name (`comm`) of a process.
pub fn name(pid: u32) -> Option<String> {
    Some(std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string())
}

/// The memory of every process in `pid`'s tree that is still there.
pub fn memory_of_tree(pid: u32) -> Vec<Memory> {
    tree(pid).into_iter().filter_map(memory).collect()
}

pub fn memory(pid: u32) -> Option<Memory> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |key: &str| -> Option<u64> {
        rollup.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory { pid, name: name(pid)?, rss_kib: field("Rss:")?, pss_kib: field("Pss:")? })
}
