//! Documents at rest: a spool file is unreadable without its AES-256-GCM key (the
//! client keeps it in the OS keyring, the server in a key file).
//!
//! Format: `REAMSPL1`, an 8-byte random file id, then frames of
//! `[last: u8][length: u32 BE][ciphertext]`. Each frame holds up to 64 KiB of the
//! document; its nonce is the file id and the frame number, and its `last` flag is
//! authenticated, so frames cannot be reordered, dropped or cut off unnoticed.

use std::path::Path;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt};

use std::io::{Error, ErrorKind};

const MAGIC: &[u8; 8] = b"REAMSPL1";
const CHUNK: usize = 64 * 1024;

#[derive(Clone)]
pub struct SpoolKey(Key<Aes256Gcm>);

impl SpoolKey {
    pub fn generate() -> SpoolKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SpoolKey(bytes.into())
    }

    pub fn to_b64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The key back from [`SpoolKey::to_b64`]; `None` when it is damaged.
    pub fn from_b64(s: &str) -> Option<SpoolKey> {
        let bytes: [u8; 32] = STANDARD.decode(s.trim()).ok()?.try_into().ok()?;
        Some(SpoolKey(bytes.into()))
    }

    /// The key in `path`, made (readable by its owner only) when there is none yet.
    pub fn load_or_create(path: &Path) -> std::io::Result<SpoolKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => SpoolKey::from_b64(&text).ok_or_else(|| {
                Error::new(ErrorKind::InvalidData, format!("{} is not a spool key", path.display()))
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let key = SpoolKey::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                std::io::Write::write_all(&mut options.open(path)?, key.to_b64().as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }
}

fn nonce(file_id: &[u8; 8], frame: u32) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(file_id);
    n[8..].copy_from_slice(&frame.to_be_bytes());
    n.into()
}

fn broken(what: &str) -> Error {
    Error::new(ErrorKind::InvalidData, format!("spool file: {what}"))
}

/// How [`write_counted`] failed.
#[derive(Debug)]
pub enum CountError {
    /// The document is not a PDF that can be read: refuse it.
    Document(String),
    /// The document is larger than the `limit` it was written under.
    TooLarge(u64),
    /// Reading the source or writing the spool failed.
    Io(Error),
}

/// Like [`write`], and counts the document's pages (see [`crate::pdf::page_count`]),
/// reading the spool file back where the counter needs it, decrypted frame by frame in
/// memory: no plaintext copy is ever written. A document over `limit` bytes is refused
/// as soon as it passes it; on any failure `path` is removed.
pub async fn write_counted<R: AsyncRead + Unpin>(
    key: &SpoolKey,
    source: R,
    path: &Path,
    limit: u64,
) -> Result<(u64, i64), CountError> {
    let result = async {
        let mut limited = source.take(limit.saturating_add(1));
        let bytes = write(key, &mut limited, path).await.map_err(CountError::Io)?;
        if bytes > limit {
            return Err(CountError::TooLarge(limit));
        }
        let pages = count_pages(key, path).await?;
        Ok((bytes, pages))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// The pages of a spooled document, counted as [`write_counted`] does.
pub async fn count_pages(key: &SpoolKey, path: &Path) -> Result<i64, CountError> {
    let file = std::fs::File::open(path).map_err(CountError::Io)?;
    let key = key.clone();
    tokio::task::spawn_blocking(move || {
        let spooled = Spooled::open(&key, file).map_err(CountError::Io)?;
        crate::pdf::page_count_of(&spooled, spooled.len).map_err(CountError::Document)
    })
    .await
    .map_err(|e| CountError::Io(Error::other(e)))?
}

/// A spool file read at any offset, as the page counter reads: each frame the read
/// touches is read and decrypted (the last one kept for the next read).
struct Spooled {
    file: std::fs::File,
    cipher: Aes256Gcm,
    file_id: [u8; 8],
    frames: u64,
    /// The document's length in bytes.
    len: u64,
    last: std::cell::RefCell<Option<(u64, Vec<u8>)>>,
}

/// A frame on disk: its flag, its length, a chunk of ciphertext and its tag.
const FRAME: u64 = 5 + CHUNK as u64 + 16;

impl Spooled {
    /// Opens the spool file, finding the document's length from its last frame, which
    /// is decrypted now: a file cut off at a frame's end is refused here.
    fn open(key: &SpoolKey, file: std::fs::File) -> std::io::Result<Spooled> {
        use std::os::unix::fs::FileExt;
        let size = file.metadata()?.len();
        let mut head = [0u8; 16];
        file.read_exact_at(&mut head, 0).map_err(|_| broken("no header"))?;
        if &head[..8] != MAGIC {
            return Err(broken("not a Ream spool file"));
        }
        let body = size.checked_sub(16).filter(|b| *b > 0).ok_or_else(|| broken("no frame"))?;
        let frames = body.div_ceil(FRAME);
        let mut spooled = Spooled {
            file,
            cipher: Aes256Gcm::new(&key.0),
            file_id: head[8..].try_into().expect("8 bytes"),
            frames,
            len: 0,
            last: std::cell::RefCell::new(None),
        };
        let (last, tail) = spooled.frame(frames - 1)?;
        if !last {
            return Err(broken("cut off"));
        }
        spooled.len = (frames - 1) * CHUNK as u64 + tail.len() as u64;
        *spooled.last.borrow_mut() = Some((frames - 1, tail));
        Ok(spooled)
    }

    /// Frame `n` decrypted, and whether it says it is the last.
    fn frame(&self, n: u64) -> std::io::Result<(bool, Vec<u8>)> {
        use std::os::unix::fs::FileExt;
        let at = 16 + n * FRAME;
        let mut flag_len = [0u8; 5];
        self.file.read_exact_at(&mut flag_len, at).map_err(|_| broken("cut off"))?;
        let len = u32::from_be_bytes(flag_len[1..].try_into().expect("4 bytes")) as usize;
        // Every frame but the last holds a whole chunk.
        let whole = n + 1 < self.frames;
        if !(16..=CHUNK + 16).contains(&len) || (whole && len != CHUNK + 16) {
            return Err(broken("a frame has a wrong length"));
        }
        let mut sealed = vec![0u8; len];
        self.file.read_exact_at(&mut sealed, at + 5).map_err(|_| broken("cut off"))?;
        let tag = sealed.split_off(len - 16);
        let frame = u32::try_from(n).map_err(|_| broken("too large"))?;
        self.cipher
            .decrypt_in_place_detached(
                &nonce(&self.file_id, frame),
                &flag_len[..1],
                &mut sealed,
                aes_gcm::Tag::from_slice(&tag),
            )
            .map_err(|_| broken("altered, or not encrypted with this key"))?;
        Ok((flag_len[0] == 1, sealed))
    }
}

impl crate::pdf::ReadAt for Spooled {
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let pos = at + done as u64;
            if pos >= self.len {
                break;
            }
            let (n, offset) = (pos / CHUNK as u64, (pos % CHUNK as u64) as usize);
            let mut last = self.last.borrow_mut();
            if last.as_ref().is_none_or(|(kept, _)| *kept != n) {
                let (flag, plain) = self.frame(n)?;
                if flag != (n + 1 == self.frames) {
                    return Err(broken("a frame is out of place"));
                }
                *last = Some((n, plain));
            }
            let plain = &last.as_ref().expect("just read").1;
            let take = (plain.len() - offset).min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&plain[offset..offset + take]);
            done += take;
        }
        Ok(done)
    }
}

/// How many frames may wait between the reader of the source and the thread that
/// encrypts and writes them: the two overlap, and memory stays at a few chunks.
const IN_FLIGHT: usize = 8;

/// Writes go to the disk in pieces of this size (a frame's header, its ciphertext and its
/// tag are one write, not three).
const WRITE_BUFFER: usize = 1 << 20;

/// How much written data the disk is asked to start on at once (see [`Writeback`]).
const WRITEBACK: u64 = 8 << 20;

/// Starts the disk on what was written, every [`WRITEBACK`] bytes, while the rest still
/// comes (Linux `sync_file_range`): the fsync at the end then waits for the last few
/// megabytes rather than for the whole document, and the page cache never holds a
/// gigabyte of dirty pages that stall every writer on the machine.
#[derive(Default)]
struct Writeback {
    /// Bytes handed to the file (past its header), and how far the disk was started.
    handed: u64,
    started: u64,
}

impl Writeback {
    fn written(&mut self, bytes: u64, out: &std::io::BufWriter<std::fs::File>) {
        self.handed += bytes;
        // What the buffer still holds is not the file's yet.
        let in_file = 16 + self.handed - out.buffer().len() as u64;
        if in_file - self.started < WRITEBACK {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: sync_file_range only reads its arguments; the descriptor is open.
            // Advice: a failure leaves the data for the fsync at the end.
            unsafe {
                libc::sync_file_range(
                    out.get_ref().as_raw_fd(),
                    self.started as i64,
                    (in_file - self.started) as i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.started = in_file;
    }
}

/// Reads `source` to its end into `path`, encrypted, and makes it durable (fsync). Memory
/// stays at a few chunks.
pub async fn write<R: AsyncRead + Unpin>(key: &SpoolKey, mut source: R, path: &Path) -> std::io::Result<u64> {
    // `Some(frame)` for each frame, `None` once the source ended well; a channel closed
    // without `None` is a source that failed, and the file is not finished.
    let (frames, mut received) = tokio::sync::mpsc::channel::<Option<Vec<u8>>>(IN_FLIGHT);
    let cipher = Aes256Gcm::new(&key.0);
    let target = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        use std::io::Write;
        let mut file_id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut file_id);
        let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, std::fs::File::create(&target)?);
        out.write_all(MAGIC)?;
        out.write_all(&file_id)?;
        let cut = || Error::new(ErrorKind::UnexpectedEof, "the document's source failed");
        let mut pending = received.blocking_recv().ok_or_else(cut)?.unwrap_or_default();
        let (mut frame, mut total) = (0u32, 0u64);
        let mut writeback = Writeback::default();
        loop {
            let next = received.blocking_recv().ok_or_else(cut)?;
            let last = next.is_none();
            let aad = [last as u8];
            total += pending.len() as u64;
            let tag = cipher
                .encrypt_in_place_detached(&nonce(&file_id, frame), &aad, &mut pending)
                .map_err(|_| broken("cannot encrypt"))?;
            out.write_all(&aad)?;
            out.write_all(&((pending.len() + tag.len()) as u32).to_be_bytes())?;
            out.write_all(&pending)?;
            out.write_all(&tag)?;
            writeback.written(5 + pending.len() as u64 + 16, &out);
            let Some(next) = next else { break };
            frame = frame.checked_add(1).ok_or_else(|| broken("too large"))?;
            pending = next;
        }
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(total)
    });
    let read = async {
        loop {
            let frame = fill(&mut source).await?;
            let end = frame.len() < CHUNK;
            if frames.send(Some(frame)).await.is_err() {
                return Ok(());
            }
            if end {
                let _ = frames.send(None).await;
                return Ok(());
            }
        }
    };
    let read: std::io::Result<()> = read.await;
    drop(frames);
    let written = writer.await.map_err(Error::other)?;
    // The source's error first: the writer only saw the channel close.
    read?;
    written
}

/// Reads up to a chunk (shorter only at the end of the source).
async fn fill<R: AsyncRead + Unpin>(source: &mut R) -> std::io::Result<Vec<u8>> {
    let mut chunk = vec![0u8; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        let n = source.read(&mut chunk[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    chunk.truncate(filled);
    Ok(chunk)
}

/// The document back, as a stream of plaintext chunks; an altered or cut-off file ends
/// the stream with an error. A thread reads and decrypts a few frames ahead of the
/// stream's consumer.
pub fn read(
    key: &SpoolKey,
    path: &Path,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let path = path.to_path_buf();
    decrypted(key, move || Ok(std::io::BufReader::with_capacity(WRITE_BUFFER, std::fs::File::open(&path)?)))
}

/// The document back from a spool file's bytes streamed from elsewhere (an object
/// store), as [`read`] does from a file. Call from within the Tokio runtime.
pub fn read_stream<S>(
    key: &SpoolKey,
    ciphertext: S,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static,
{
    // The decrypting thread reads the stream as a plain reader, blocking on it there.
    let bridge = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(ciphertext));
    decrypted(key, move || Ok(std::io::BufReader::with_capacity(WRITE_BUFFER, bridge)))
}

/// The frames read from what `open` gives, decrypted on a blocking thread started on
/// the stream's first poll.
fn decrypted<R, O>(
    key: &SpoolKey,
    open: O,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static
where
    R: std::io::Read,
    O: FnOnce() -> std::io::Result<R> + Send + 'static,
{
    let cipher = Aes256Gcm::new(&key.0);
    let (frames, received) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(IN_FLIGHT);
    let reader = move || {
        let frames_of = || -> std::io::Result<()> {
            let mut file = open()?;
            let mut head = [0u8; 16];
            file.read_exact(&mut head).map_err(|_| broken("no header"))?;
            if &head[..8] != MAGIC {
                return Err(broken("not a Ream spool file"));
            }
            let file_id: [u8; 8] = head[8..].try_into().expect("8 bytes");
            for frame in 0u32.. {
                let mut flag_len = [0u8; 5];
                file.read_exact(&mut flag_len).map_err(|_| broken("cut off"))?;
                let flag = flag_len[0];
                let len = u32::from_be_bytes(flag_len[1..].try_into().expect("4 bytes")) as usize;
                if !(16..=CHUNK + 16).contains(&len) {
                    return Err(broken("a frame has a wrong length"));
                }
                let mut sealed = vec![0u8; len];
                file.read_exact(&mut sealed).map_err(|_| broken("cut off"))?;
                let tag = sealed.split_off(len - 16);
                cipher
                    .decrypt_in_place_detached(
                        &nonce(&file_id, frame),
                        &[flag],
                        &mut sealed,
                        aes_gcm::Tag::from_slice(&tag),
                    )
                    .map_err(|_| broken("altered, or not encrypted with this key"))?;
                if frames.blocking_send(Ok(bytes::Bytes::from(sealed))).is_err() || flag == 1 {
                    return Ok(());
                }
            }
            Err(broken("too large"))
        };
        if let Err(e) = frames_of() {
            let _ = frames.blocking_send(Err(e));
        }
    };
    // Started on the first poll, from within the runtime.
    let mut reader = Some(reader);
    let mut received = received;
    futures_util::stream::poll_fn(move |cx| {
        if let Some(start) = reader.take() {
            tokio::task::spawn_blocking(start);
        }
        received.poll_recv(cx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    async fn read_all(key: &SpoolKey, path: &Path) -> std::io::Result<Vec<u8>> {
        read(key, path).map_ok(|b| b.to_vec()).try_concat().await
    }

    async fn round_trip(size: usize) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc");
        let key = SpoolKey::generate();
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        assert_eq!(write(&key, &data[..], &path).await.unwrap(), size as u64);
        let stored = std::fs::read(&path).unwrap();
        assert!(size < 64 || !stored.windows(64).any(|w| w == &data[..64]), "the plaintext is not on disk");
        let back = read_all(&key, &path).await.unwrap();
        assert_eq!(back.len(), size);
        assert!(back == data);
        // The same bytes streamed in odd pieces, as from an object store.
        let pieces: Vec<std::io::Result<bytes::Bytes>> =
            stored.chunks(7919).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
        let streamed = read_stream(&key, futures_util::stream::iter(pieces))
            .map_ok(|b| b.to_vec())
            .try_concat()
            .await
            .unwrap();
        assert!(streamed == data);
    }

    #[tokio::test]
    async fn documents_of_every_size_come_back_whole() {
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            round_trip(size).await;
        }
    }

    /// A PDF of `pages` pages whose first page carries `filler` bytes of stream data, so
    /// that its objects lie in several frames.
    fn pdf(pages: usize, filler: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + i)).collect();
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")),
            format!("<< /Length {filler} >>\nstream\n{}\nendstream", " ".repeat(filler)),
        ];
        objects.extend((0..pages).map(|_| "<< /Type /Page /Parent 2 0 R /Contents 3 0 R >>".to_string()));
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            out.extend(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend(
            format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
                .as_bytes(),
        );
        out
    }

    #[tokio::test]
    async fn pages_are_counted_from_the_encrypted_spool_itself() {
        let dir = tempfile::tempdir().unwrap();
        let key = SpoolKey::generate();
        for (pages, filler) in [(1, 10), (3, 3 * CHUNK), (7, CHUNK - 200)] {
            let document = pdf(pages, filler);
            let path = dir.path().join("doc");
            let (bytes, counted) = write_counted(&key, &document[..], &path, u64::MAX).await.unwrap();
            assert_eq!((bytes, counted), (document.len() as u64, pages as i64));
            assert_eq!(count_pages(&key, &path).await.unwrap(), pages as i64);
            // Nothing but the spool file: no plaintext copy beside it.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            // Cut off at a frame's end, with another key, or with a bit flipped: refused.
            let good = std::fs::read(&path).unwrap();
            if good.len() > 16 + FRAME as usize {
                std::fs::write(&path, &good[..16 + FRAME as usize]).unwrap();
                assert!(matches!(count_pages(&key, &path).await, Err(CountError::Io(_))), "cut off");
            }
            std::fs::write(&path, &good).unwrap();
            assert!(matches!(count_pages(&SpoolKey::generate(), &path).await, Err(CountError::Io(_))));
            // A flipped bit where the counter reads (the end, with the cross-references);
            // one in a frame it never needs is caught when the document is read to print.
            let mut flipped = good.clone();
            let at = flipped.len() - 40;
            flipped[at] ^= 1;
            std::fs::write(&path, &flipped).unwrap();
            assert!(count_pages(&key, &path).await.is_err());
            std::fs::remove_file(&path).unwrap();
        }
        // Not a PDF: refused as a document, and nothing stays.
        let path = dir.path().join("text");
        assert!(matches!(
            write_counted(&key, &b"hello"[..], &path, u64::MAX).await,
            Err(CountError::Document(_))
        ));
        assert!(!path.exists());
        // Over the limit: refused as such.
        let document = pdf(1, 10);
        let limit = document.len() as u64 - 1;
        assert!(
            matches!(write_counted(&key, &document[..], &path, limit).await, Err(CountError::TooLarge(l)) if l == limit)
        );
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn altered_cut_off_or_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc");
        let key = SpoolKey::generate();
        let data = vec![7u8; 2 * CHUNK + 5];
        write(&key, &data[..], &path).await.unwrap();
        let good = std::fs::read(&path).unwrap();
        assert!(read_all(&SpoolKey::generate(), &path).await.is_err(), "another key");
        let mut flipped = good.clone();
        flipped[40] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(read_all(&key, &path).await.is_err(), "a flipped bit");
        std::fs::write(&path, &good[..good.len() - 100]).unwrap();
        assert!(read_all(&key, &path).await.is_err(), "cut off");
        // Dropping the last frame entirely (cut at a frame boundary) is noticed too.
        let first_frame_end = 16 + 5 + (CHUNK + 16);
        std::fs::write(&path, &good[..first_frame_end]).unwrap();
        assert!(read_all(&key, &path).await.is_err(), "frames missing");
        std::fs::write(&path, &good).unwrap();
        assert_eq!(read_all(&key, &path).await.unwrap().len(), data.len());
    }
}
