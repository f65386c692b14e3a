use super::*;
use std::collections::BTreeMap;
use std::io::Write;

/// Lays out numbered objects with cross-references whose offsets are right, so a test
/// damages a document only where it means to.
#[derive(Clone, Default)]
struct Doc {
    objects: BTreeMap<u32, Vec<u8>>,
    /// More trailer entries; `{xref}` stands for the offset of this section's table.
    trailer: String,
}

impl Doc {
    fn obj(mut self, num: u32, body: &str) -> Self {
        self.objects.insert(num, body.as_bytes().to_vec());
        self
    }

    fn trailer(mut self, extra: &str) -> Self {
        self.trailer = extra.into();
        self
    }

    fn size(&self) -> u32 {
        self.objects.keys().last().map_or(1, |n| n + 1)
    }

    fn head(&self) -> Vec<u8> {
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec()
    }

    fn put(out: &mut Vec<u8>, num: u32, body: &[u8]) -> usize {
        let at = out.len();
        out.extend_from_slice(format!("{num} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
        at
    }

    /// With a classic `xref` table.
    fn classic(&self) -> Vec<u8> {
        let mut out = self.head();
        let size = self.size();
        let mut offsets = vec![None; size as usize];
        for (&num, body) in &self.objects {
            offsets[num as usize] = Some(Self::put(&mut out, num, body));
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {size}\n").as_bytes());
        for offset in offsets {
            out.extend_from_slice(
                match offset {
                    Some(o) => format!("{o:010} 00000 n \n"),
                    None => "0000000000 65535 f \n".into(),
                }
                .as_bytes(),
            );
        }
        let extra = self.trailer.replace("{xref}", &xref.to_string());
        out.extend_from_slice(
            format!("trailer\n<< /Size {size} /Root 1 0 R {extra} >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    /// PDF 1.5 style: the objects in `packed` in one object stream (padded with
    /// `padding` spaces after them), the rest direct, all listed in a cross-reference
    /// stream whose rows are PNG Up predicted.
    fn compressed(&self, packed: &[u32], padding: usize) -> Vec<u8> {
        let mut out = self.head();
        let (stream_num, xref_num) = (self.size(), self.size() + 1);
        let mut rows = vec![(0u8, 0u32, 0xffffu16); xref_num as usize + 1];
        let (mut header, mut bodies) = (String::new(), Vec::new());
        for (&num, body) in &self.objects {
            if packed.contains(&num) {
                rows[num as usize] = (2, stream_num, (header.split(' ').count() / 2) as u16);
                header.push_str(&format!("{num} {} ", bodies.len()));
                bodies.extend_from_slice(body);
                bodies.push(b'\n');
            } else {
                rows[num as usize] = (1, Self::put(&mut out, num, body) as u32, 0);
            }
        }
        let mut content = header.clone().into_bytes();
        content.extend_from_slice(&bodies);
        content.resize(content.len() + padding, b' ');
        let dict = format!("/Type /ObjStm /N {} /First {}", packed.len(), header.len());
        rows[stream_num as usize] = (1, out.len() as u32, 0);
        Self::put(&mut out, stream_num, &stream(&dict, &zlib(&content)));
        let xref = out.len();
        rows[xref_num as usize] = (1, xref as u32, 0);
        let (mut predicted, mut above) = (Vec::new(), [0u8; 7]);
        for (kind, field, gen) in rows {
            let mut row = [kind, 0, 0, 0, 0, 0, 0];
            row[1..5].copy_from_slice(&field.to_be_bytes());
            row[5..].copy_from_slice(&gen.to_be_bytes());
            predicted.push(2);
            predicted.extend(row.iter().zip(above).map(|(b, a)| b.wrapping_sub(a)));
            above = row;
        }
        let extra = self.trailer.replace("{xref}", &xref.to_string());
        let dict = format!(
            "/Type /XRef /Size {} /Index [0 1 1 {}] /W [1 4 2] /Root 1 0 R {extra} \
             /DecodeParms << /Predictor 12 /Columns 7 >>",
            xref_num + 1,
            xref_num
        );
        Self::put(&mut out, xref_num, &stream(&dict, &zlib(&predicted)));
        out.extend_from_slice(format!("startxref\n{xref}\n%%EOF\n").as_bytes());
        out
    }
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A FlateDecode stream object's body.
fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Filter /FlateDecode /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

const PAGE: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>";

/// Catalog 1, one page-tree node 2 that declares `declared` pages and lists `pages`
/// leaves (objects 3 on).
fn flat(pages: u32, declared: u32) -> Doc {
    let kids: String = (0..pages).map(|i| format!("{} 0 R ", 3 + i)).collect();
    let mut doc = Doc::default()
        .obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
        .obj(2, &format!("<< /Type /Pages /Kids [{kids}] /Count {declared} >>"));
    for i in 0..pages {
        doc = doc.obj(3 + i, PAGE);
    }
    doc
}

/// A root over `nodes` intermediate nodes (objects 3…) of `per_node` pages each.
fn nested(nodes: u32, per_node: u32) -> Doc {
    let first_page = 3 + nodes;
    let node_refs: String = (0..nodes).map(|i| format!("{} 0 R ", 3 + i)).collect();
    let mut doc = Doc::default()
        .obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
        .obj(2, &format!("<< /Type /Pages /Kids [{node_refs}] /Count {} >>", nodes * per_node));
    for n in 0..nodes {
        let kids: String = (0..per_node).map(|p| format!("{} 0 R ", first_page + n * per_node + p)).collect();
        doc = doc.obj(3 + n, &format!("<< /Type /Pages /Parent 2 0 R /Kids [{kids}] /Count {per_node} >>"));
        for p in 0..per_node {
            doc = doc.obj(first_page + n * per_node + p, PAGE);
        }
    }
    doc
}

/// A chain of `depth` nodes, each the only kid of the one above, with a page at its end.
fn deep(depth: u32) -> Doc {
    let mut doc = Doc::default().obj(1, "<< /Type /Catalog /Pages 2 0 R >>");
    for i in 0..depth {
        doc = doc.obj(2 + i, &format!("<< /Type /Pages /Kids [{} 0 R] /Count 1 >>", 3 + i));
    }
    doc.obj(2 + depth, PAGE)
}

/// A root whose second kid lists the root again.
fn kids_cycle() -> Doc {
    flat(1, 1)
        .obj(2, "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>")
        .obj(4, "<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
}

const ENCRYPT: &str = "<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>";

fn pages(pages: u64, declared: i64) -> Result<Count, Refusal> {
    Ok(Count { pages, declared: Some(declared) })
}

fn damaged(what: &str) -> Result<Count, Refusal> {
    Err(Refusal::Damaged(what.into()))
}

fn too_complex(what: &str) -> Result<Count, Refusal> {
    Err(Refusal::TooComplex(what.into()))
}

#[track_caller]
fn check(input: &[u8], expected: Result<Count, Refusal>) {
    assert_eq!(count(input), expected);
}

#[test]
fn well_formed_documents_are_counted() {
    check(&flat(3, 3).classic(), pages(3, 3));
    check(&flat(1, 1).classic(), pages(1, 1));
    check(&nested(4, 5).classic(), pages(20, 20));
    check(&deep(200).classic(), pages(1, 1));
    check(&flat(3, 3).compressed(&[1, 2, 3, 4, 5], 0), pages(3, 3));
    check(&nested(3, 3).compressed(&[1, 2, 3, 4], 0), pages(9, 9));
}

#[test]
fn the_leaves_are_charged_whatever_the_root_declares() {
    check(&flat(50, 1).classic(), pages(50, 1));
    check(&flat(2, 1000).classic(), pages(2, 1000));
    check(&flat(50, 1).compressed(&[2], 0), pages(50, 1));
    // An indirect /Count is still what the root declares.
    let indirect = flat(2, 0).obj(2, "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 9 0 R >>").obj(9, "7");
    check(&indirect.classic(), pages(2, 7));
}

#[test]
fn page_trees_that_loop_or_nest_without_end_are_refused() {
    let cycle = flat(1, 1)
        .obj(2, "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>")
        .obj(4, "<< /Type /Pages /Kids [2 0 R] /Count 1 >>");
    let twice = "its page tree reaches object 2 twice (a loop in /Kids, or a page listed twice)";
    check(&cycle.classic(), damaged(twice));
    check(&cycle.compressed(&[1, 2, 4], 0), damaged(twice));
    let self_loop = flat(0, 0).obj(2, "<< /Type /Pages /Kids [2 0 R] /Count 1 >>");
    check(&self_loop.classic(), damaged(twice));
    check(
        &flat(0, 0).obj(2, "<< /Type /Pages /Kids [3 0 R 3 0 R] >>").obj(3, PAGE).classic(),
        damaged("its page tree reaches object 3 twice (a loop in /Kids, or a page listed twice)"),
    );
    let deeper = "its page tree is nested more than 256 levels deep";
    check(&deep(256).classic(), pages(1, 1));
    check(&deep(257).classic(), too_complex(deeper));
    check(&deep(100_000).classic(), too_complex(deeper));
}

#[test]
fn inflation_is_capped() {
    // A few KB of compressed spaces that inflate to more than the cap.
    let bomb = flat(3, 3).compressed(&[1, 2], MAX_STREAM_BYTES);
    assert!(bomb.len() < 64 << 10, "the bomb is {} bytes", bomb.len());
    check(&bomb, too_complex("a stream inflates past 16 MiB"));
    check(&flat(3, 3).compressed(&[1, 2], MAX_STREAM_BYTES - 4096), pages(3, 3));
}

#[test]
fn cross_references_say_where_each_object_is() {
    use xref::Place::{At, Free, InStream};
    let at = |doc: &[u8], num: u32| {
        At(memchr::memmem::find(doc, format!("\n{num} 0 obj").as_bytes()).unwrap() + 1)
    };
    // Objects 1 to 4, then the object stream (5) and the cross-reference stream (6).
    let compressed = flat(2, 2).compressed(&[1, 3], 0);
    let classic = flat(2, 2).classic();
    for (doc, expected) in [
        (
            &compressed,
            [Free, InStream { stream: 5, index: 0 }, at(&compressed, 2), InStream { stream: 5, index: 1 }],
        ),
        (&classic, [Free, at(&classic, 1), at(&classic, 2), at(&classic, 3)]),
    ] {
        let (bytes, mut work) = (doc.as_slice(), Work::for_len(doc.len()));
        let src = Source::new(&bytes, doc.len());
        let mut xref = xref::Xref::read(&src, &mut work).unwrap();
        for (num, place) in expected.into_iter().enumerate() {
            assert_eq!(xref.place(&src, num as u32, &mut work), Ok(Some(place)), "object {num}");
        }
        assert_eq!(xref.place(&src, 7, &mut work), Ok(None));
    }
}

#[test]
fn cross_reference_chains_that_loop_are_refused_and_the_objects_found_by_scanning() {
    for doc in
        [flat(3, 3).trailer("/Prev {xref}").classic(), flat(3, 3).trailer("/Prev {xref}").compressed(&[], 0)]
    {
        let (bytes, mut work) = (doc.as_slice(), Work::for_len(doc.len()));
        let loop_ = "its cross-reference sections loop back on themselves (/Prev)";
        let read = xref::Xref::read(&Source::new(&bytes, doc.len()), &mut work);
        assert_eq!(read.err(), Some(Refusal::Damaged(loop_.into())));
        check(&doc, pages(3, 3));
    }
}

#[test]
fn damaged_or_missing_cross_references_are_rebuilt_by_scanning() {
    let doc = nested(2, 3).classic();
    let xref = memchr::memmem::rfind(&doc, b"xref\n0").unwrap();
    // Cut before the table: every object is still there to be found.
    check(&doc[..xref], pages(6, 6));
    // Offsets all wrong: a prefix the writer did not count.
    check(&[b"junk\n".as_slice(), &doc].concat(), pages(6, 6));
    let compressed = nested(2, 3).compressed(&[3, 4, 5, 6], 0);
    let startxref = memchr::memmem::rfind(&compressed, b"startxref").unwrap();
    check(&compressed[..startxref], pages(6, 6));
    // Cut in the middle: pages the tree lists are gone.
    let cut = &doc[..memchr::memmem::find(&doc, b"8 0 obj").unwrap()];
    check(cut, damaged("its page tree refers to object 8, which is missing"));
}

#[test]
fn documents_are_read_in_windows_whatever_falls_across_their_edges() {
    // A page-tree node larger than the first window, and one larger than any.
    check(&flat(5000, 5000).classic(), pages(5000, 5000));
    let huge = format!("<< /Type /Pages /Kids [3 0 R{}] /Count 1 >>", " ".repeat(source::MAX_WINDOW));
    check(&flat(1, 1).obj(2, &huge).classic(), too_complex("one of its objects is larger than 16 MiB"));
    // Without cross-references, the scan reads chunks of a MiB: a comment long enough to
    // put object 5's head at each place across the first chunk's end.
    let doc = nested(2, 3).classic();
    let doc = &doc[..memchr::memmem::rfind(&doc, b"xref\n0").unwrap()];
    let five = memchr::memmem::find(doc, b"5 0 obj").unwrap();
    for end in (1 << 20) - 12..(1 << 20) + 4 {
        let comment = format!("%{}\n", "x".repeat(end - five - 2));
        check(&[&doc[..five], comment.as_bytes(), &doc[five..]].concat(), pages(6, 6));
    }
    // Stream data is stepped over, whether its /Length is right or not: the object head
    // in it would otherwise replace node 3.
    let fake = "3 0 obj << /Type /Pages /Kids [] >> endobj\n";
    for length in [fake.len(), 1] {
        let doc = nested(2, 3).obj(20, &format!("<< /Length {length} >>\nstream\n{fake}endstream")).classic();
        check(&doc[..memchr::memmem::rfind(&doc, b"xref\n0").unwrap()], pages(6, 6));
    }
}

#[test]
fn encrypted_documents_are_counted_when_their_page_tree_is_plain() {
    let encrypted = flat(3, 3).obj(9, ENCRYPT).trailer("/Encrypt 9 0 R /ID [<01> <01>]");
    check(&encrypted.classic(), pages(3, 3));
    check(&encrypted.compressed(&[], 0), pages(3, 3));
    // Its object streams are encrypted too: what is in them cannot be read.
    check(&encrypted.compressed(&[1, 2], 0), Err(Refusal::Encrypted));
    check(&encrypted.compressed(&[3], 0), Err(Refusal::Encrypted));
    // Whatever hides the pages of an encrypted document, it is named as encrypted.
    check(&flat(0, 0).obj(9, ENCRYPT).trailer("/Encrypt 9 0 R").classic(), Err(Refusal::Encrypted));
}

#[test]
fn what_is_not_a_readable_pdf_is_refused_with_a_reason() {
    check(b"", Err(Refusal::Empty));
    let mut noise = Vec::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push(x as u8);
    }
    check(&noise, Err(Refusal::NotPdf));
    check(b"Hello, printer", Err(Refusal::NotPdf));
    check(&[b"%PDF-1.4\n".as_slice(), &noise].concat(), damaged("it has no catalog (/Root)"));
    check(b"%PDF-1.4\n", damaged("it has no catalog (/Root)"));
    check(&flat(0, 0).classic(), Err(Refusal::NoPages));
    check(&flat(3, 3).obj(1, "<< /Type /Catalog >>").classic(), damaged("its catalog has no page tree"));
    check(
        &flat(1, 1).obj(3, "<< /Type /Font >>").classic(),
        damaged("its page tree holds object 3, which is not a page"),
    );
    let lzw =
        Doc::default().obj(1, "<< /Type /Catalog /Pages 2 0 R >>").obj(2, "<< /Type /Pages /Kids [] >>");
    let lzw = lzw.compressed(&[1, 2], 0);
    let lzw = String::from_utf8_lossy(&lzw).replace("/FlateDecode", "/LZWDecode ").into_bytes();
    check(&lzw, Err(Refusal::Unsupported("a stream compressed with /LZWDecode".into())));
}

#[test]
fn callers_get_the_count_or_the_reason_in_words() {
    let file = |bytes: &[u8]| {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    };
    assert_eq!(page_count(&file(&flat(50, 1).classic())), Ok(50));
    assert_eq!(page_count(&file(b"")), Err("the document is empty".into()));
    assert_eq!(page_count(&file(&flat(0, 0).classic())), Err("the PDF has no pages".into()));
    let encrypted = flat(3, 3).obj(9, ENCRYPT).trailer("/Encrypt 9 0 R").compressed(&[1, 2], 0);
    assert_eq!(
        page_count(&file(&encrypted)),
        Err("the PDF is password-protected: its pages cannot be counted without the password".into())
    );
}

#[test]
fn documents_made_by_real_tools_are_counted_as_pdfinfo_counts_them() {
    macro_rules! real {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/data/", $name)).as_slice()
        };
    }
    check(real!("cupsfilter-text.pdf"), pages(1, 1));
    check(real!("ghostscript.pdf"), pages(3, 3));
    check(real!("ghostscript-encrypted.pdf"), pages(3, 3));
    check(real!("qpdf-object-streams.pdf"), pages(3, 3));
    check(real!("qpdf-linearized.pdf"), pages(3, 3));
    check(real!("qpdf-encrypted.pdf"), pages(3, 3));
    check(real!("qpdf-encrypted-object-streams.pdf"), Err(Refusal::Encrypted));
}

/// The crafted documents small enough to seed the fuzzer.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let encrypted = flat(3, 3).obj(9, ENCRYPT).trailer("/Encrypt 9 0 R");
    let plain = nested(2, 3).classic();
    vec![
        ("plain.pdf", plain.clone()),
        ("count-too-low.pdf", flat(50, 1).classic()),
        ("count-too-high.pdf", flat(2, 1000).classic()),
        ("kids-cycle.pdf", kids_cycle().classic()),
        ("deep.pdf", deep(300).classic()),
        ("object-streams.pdf", nested(2, 3).compressed(&[1, 2, 3, 4, 5], 0)),
        ("prev-loop.pdf", flat(3, 3).trailer("/Prev {xref}").compressed(&[2], 0)),
        ("truncated.pdf", plain[..plain.len() / 2].to_vec()),
        ("encrypted.pdf", encrypted.classic()),
        ("encrypted-object-streams.pdf", encrypted.compressed(&[1, 2], 0)),
    ]
}

#[test]
fn the_fuzzer_is_seeded_with_the_crafted_documents() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/page_count");
    let bless = std::env::var_os("REAM_BLESS").is_some();
    for (name, bytes) in seeds() {
        let path = dir.join(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert!(
            std::fs::read(&path).is_ok_and(|b| b == bytes),
            "{name} is stale: run again with REAM_BLESS=1"
        );
    }
}
