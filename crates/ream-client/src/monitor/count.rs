//! What a local job is: its pages, counted by Ream from the documents CUPS spooled for
//! it (PDF by Ream's own bounded counter; PostScript by its `%%Pages:` comment, which
//! every PostScript driver and converter writes), and the SHA-256 of the bytes that go
//! to the device.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The documents of CUPS job `job` in its spool folder (`d00042-001`, `d00042-002`…).
pub fn job_documents(spool: &Path, job: i64) -> Vec<PathBuf> {
    (1..).map(|n| spool.join(format!("d{job:05}-{n:03}"))).take_while(|p| p.is_file()).collect()
}

/// Pages of one document; a reason a person can read when Ream cannot count it.
pub fn pages_of(path: &Path) -> Result<i64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the document: {e}"))?;
    let mut head = [0u8; 1024];
    let n = (&file).take(1024).read(&mut head).map_err(|e| format!("cannot read the document: {e}"))?;
    let head = &head[..n];
    if memmem(head, b"%PDF-") {
        return ream_print::pdf::page_count(&file);
    }
    if head.starts_with(b"%!") {
        return postscript_pages(path);
    }
    Err("Ream counts PDF and PostScript documents; print this one as PDF".into())
}

fn memmem(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A PostScript document's pages, from its DSC comment `%%Pages: N` (the last one wins:
/// `(atend)` in the header puts the figure in the trailer).
fn postscript_pages(path: &Path) -> Result<i64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the document: {e}"))?;
    let mut pages = None;
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| format!("cannot read the document: {e}"))?;
        if let Some(rest) = line.strip_prefix(b"%%Pages:") {
            let text = String::from_utf8_lossy(rest);
            if let Some(n) = text.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()) {
                pages = Some(n);
            }
        }
    }
    match pages {
        Some(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err("this PostScript document does not say how many pages it has (%%Pages)".into()),
    }
}

/// SHA-256 (hex) of a file, read in pieces.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postscript_pages_come_from_the_last_pages_comment() {
        let dir = tempfile::tempdir().unwrap();
        let ps = dir.path().join("doc.ps");
        std::fs::write(&ps, "%!PS-Adobe-3.0\n%%Pages: (atend)\nshowpage\n%%Trailer\n%%Pages: 4\n%%EOF\n")
            .unwrap();
        assert_eq!(pages_of(&ps), Ok(4));
        std::fs::write(&ps, "%!PS\nshowpage\n").unwrap();
        assert!(pages_of(&ps).unwrap_err().contains("%%Pages"));
        std::fs::write(&ps, "plain text\n").unwrap();
        assert!(pages_of(&ps).unwrap_err().contains("PDF"));
    }

    #[test]
    fn a_jobs_documents_are_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["d00042-001", "d00042-002", "d00043-001", "d00042-004"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found = job_documents(dir.path(), 42);
        assert_eq!(found, [dir.path().join("d00042-001"), dir.path().join("d00042-002")]);
        assert!(job_documents(dir.path(), 7).is_empty());
    }
}
