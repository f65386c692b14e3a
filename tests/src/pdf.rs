//! Small, valid PDF documents with a known number of pages, made here so a test knows
//! exactly what the server must count.

/// A PDF of `pages` A4 pages, each with one line of text.
pub fn pages(pages: usize) -> Vec<u8> {
    written(pages, |i| format!("Ream test page {}", i + 1))
}

/// A one-page PDF whose text is `label`: documents told apart by their bytes.
pub fn labelled(label: &str) -> Vec<u8> {
    written(1, |_| label.to_string())
}

fn written(pages: usize, text: impl Fn(usize) -> String) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    // 1: catalog, 2: page tree, 3: font, then per page a page object and its content.
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for i in 0..pages {
        let content = format!("BT /F1 24 Tf 72 720 Td ({}) Tj ET", text(i));
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    out
}

/// Writes a PDF of `pages` pages, each carrying `bytes_per_page` of (valid, unused)
/// stream data, straight to `path`: a large document made in bounded memory.
pub fn write_large(path: &std::path::Path, pages: usize, bytes_per_page: usize) -> std::io::Result<u64> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut offset: u64 = 0;
    let mut offsets = Vec::new();
    let put = |out: &mut std::io::BufWriter<std::fs::File>,
               bytes: &[u8],
               offset: &mut u64|
     -> std::io::Result<()> {
        out.write_all(bytes)?;
        *offset += bytes.len() as u64;
        Ok(())
    };
    put(&mut out, b"%PDF-1.4\n", &mut offset)?;
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let head = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")),
    ];
    for (i, body) in head.iter().enumerate() {
        offsets.push(offset);
        put(&mut out, format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes(), &mut offset)?;
    }
    let filler = vec![b' '; 1 << 16];
    for i in 0..pages {
        offsets.push(offset);
        let page = format!(
            "{} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R >>\nendobj\n",
            3 + 2 * i,
            4 + 2 * i
        );
        put(&mut out, page.as_bytes(), &mut offset)?;
        offsets.push(offset);
        put(
            &mut out,
            format!("{} 0 obj\n<< /Length {bytes_per_page} >>\nstream\n", 4 + 2 * i).as_bytes(),
            &mut offset,
        )?;
        let mut left = bytes_per_page;
        while left > 0 {
            let n = left.min(filler.len());
            put(&mut out, &filler[..n], &mut offset)?;
            left -= n;
        }
        put(&mut out, b"\nendstream\nendobj\n", &mut offset)?;
    }
    let xref = offset;
    put(&mut out, format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(), &mut offset)?;
    for o in &offsets {
        put(&mut out, format!("{o:010} 00000 n \n").as_bytes(), &mut offset)?;
    }
    let trailer =
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", offsets.len() + 1);
    put(&mut out, trailer.as_bytes(), &mut offset)?;
    out.flush()?;
    Ok(offset)
}
