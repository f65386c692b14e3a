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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

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

/// Reads `source` to its end into `path`, encrypted. Memory stays at one chunk.
pub async fn write<R: AsyncRead + Unpin>(key: &SpoolKey, source: R, path: &Path) -> std::io::Result<u64> {
    write_teed(key, source, path, None).await
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

/// Like [`write`], and counts the document's pages (see [`crate::pdf::page_count`]).
/// Counting needs random access to the plaintext: it is read from an anonymous file in
/// `scratch` (unlinked from birth, so it has no name and vanishes with the process
/// however that ends) while the named spool file gets only ciphertext. A document over
/// `limit` bytes is refused as soon as it passes it; on any failure `path` is removed.
pub async fn write_counted<R: AsyncRead + Unpin>(
    key: &SpoolKey,
    source: R,
    path: &Path,
    scratch: &Path,
    limit: u64,
) -> Result<(u64, i64), CountError> {
    let result = async {
        let plain = tempfile::tempfile_in(scratch).map_err(CountError::Io)?;
        let tee = plain.try_clone().map_err(CountError::Io)?;
        let mut limited = source.take(limit + 1);
        let bytes = write_teed(key, &mut limited, path, Some(tee)).await.map_err(CountError::Io)?;
        if bytes > limit {
            return Err(CountError::TooLarge(limit));
        }
        let pages = tokio::task::spawn_blocking(move || crate::pdf::page_count(&plain))
            .await
            .map_err(|e| CountError::Io(Error::other(e)))?
            .map_err(CountError::Document)?;
        Ok((bytes, pages))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// The pages of a spooled document, counted like [`write_counted`] does: from an
/// anonymous plaintext copy in `scratch` that has no name and goes when counting ends.
pub async fn count_pages(key: &SpoolKey, path: &Path, scratch: &Path) -> Result<i64, CountError> {
    let plain = tempfile::tempfile_in(scratch).map_err(CountError::Io)?;
    let mut copy = tokio::fs::File::from_std(plain.try_clone().map_err(CountError::Io)?);
    let mut reader = tokio_util::io::StreamReader::new(Box::pin(read(key, path)));
    tokio::io::copy(&mut reader, &mut copy).await.map_err(CountError::Io)?;
    copy.flush().await.map_err(CountError::Io)?;
    tokio::task::spawn_blocking(move || crate::pdf::page_count(&plain))
        .await
        .map_err(|e| CountError::Io(Error::other(e)))?
        .map_err(CountError::Document)
}

/// How many frames may wait between the reader of the source and the thread that
/// encrypts and writes them: the two overlap, and memory stays at a few chunks.
const IN_FLIGHT: usize = 8;

/// Writes go to the disk in pieces of this size (a frame's header, its ciphertext and its
/// tag are one write, not three).
const WRITE_BUFFER: usize = 1 << 20;

async fn write_teed<R: AsyncRead + Unpin>(
    key: &SpoolKey,
    mut source: R,
    path: &Path,
    tee: Option<std::fs::File>,
) -> std::io::Result<u64> {
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
        let mut tee = tee.map(|f| std::io::BufWriter::with_capacity(WRITE_BUFFER, f));
        out.write_all(MAGIC)?;
        out.write_all(&file_id)?;
        let cut = || Error::new(ErrorKind::UnexpectedEof, "the document's source failed");
        let mut pending = received.blocking_recv().ok_or_else(cut)?.unwrap_or_default();
        let (mut frame, mut total) = (0u32, 0u64);
        loop {
            let next = received.blocking_recv().ok_or_else(cut)?;
            let last = next.is_none();
            let aad = [last as u8];
            if let Some(tee) = tee.as_mut() {
                tee.write_all(&pending)?;
            }
            total += pending.len() as u64;
            let tag = cipher
                .encrypt_in_place_detached(&nonce(&file_id, frame), &aad, &mut pending)
                .map_err(|_| broken("cannot encrypt"))?;
            out.write_all(&aad)?;
            out.write_all(&((pending.len() + tag.len()) as u32).to_be_bytes())?;
            out.write_all(&pending)?;
            out.write_all(&tag)?;
            let Some(next) = next else { break };
            frame = frame.checked_add(1).ok_or_else(|| broken("too large"))?;
            pending = next;
        }
        if let Some(tee) = tee.as_mut() {
            tee.flush()?;
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
    let cipher = Aes256Gcm::new(&key.0);
    let path = path.to_path_buf();
    let (frames, received) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(IN_FLIGHT);
    let reader = move || {
        let frames_of = || -> std::io::Result<()> {
            use std::io::Read;
            let mut file = std::io::BufReader::with_capacity(WRITE_BUFFER, std::fs::File::open(&path)?);
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
    }

    #[tokio::test]
    async fn documents_of_every_size_come_back_whole() {
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            round_trip(size).await;
        }
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
