//! A document's page count, read from its page tree.

/// Pages of a PDF, read from its page tree. Only the cross-reference table and the
/// objects it leads to are parsed, from a memory map of the file, so a document of any
/// size is counted in bounded memory. A document that cannot be read is refused with
/// a reason a person can read.
pub fn page_count(file: &std::fs::File) -> Result<i64, String> {
    // SAFETY: the file is a private copy of the caller's, complete and not changed
    // while it is mapped.
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(|e| format!("cannot read the document: {e}"))?;
    let pages = match lopdf::Document::load_metadata_mem(&map) {
        Ok(meta) => i64::from(meta.page_count),
        // Damaged cross-references: parse the whole document as the last resort.
        Err(_) => {
            lopdf::Document::load_mem(&map).map_err(|e| format!("not a readable PDF: {e}"))?.get_pages().len()
                as i64
        }
    };
    if pages == 0 {
        return Err("the PDF has no pages".into());
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_documents_are_refused_with_a_reason() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"%PDF-1.4\nthis is not a PDF at all").unwrap();
        assert!(page_count(&file).unwrap_err().contains("PDF"));
        assert!(page_count(&tempfile::tempfile().unwrap()).is_err(), "an empty file");
    }
}
