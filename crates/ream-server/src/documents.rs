//! Where spooled documents are kept, behind one interface: a folder (this machine's disk,
//! the default, or a network file system every instance mounts) or an S3-compatible
//! object store (`[cluster.s3]`) that every instance reaches.
//!
//! Only ciphertext is ever stored (`ream_print::spool`'s format). An upload is spooled
//! to a staging file of this instance first, as the page counter reads the document at
//! any offset; from there it goes to the object store in one request (up to 8 MiB) or
//! streamed in parts, and delivery streams it back, decrypting on the way: no document
//! is ever whole in memory.
//!
//! A job's `spool_file` says where its document is: a path for a folder, or
//! `s3:<object key>`. A path keeps working after a move to an object store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use ream_print::printer::{CipherSource, CipherStream, Document};
use ream_print::spool::{self, CountError, SpoolKey};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::{Config, S3Config};

const OBJECT: &str = "s3:";
/// The size of the parts an upload is sent in (S3 wants at least 5 MiB but for the last).
const PART: usize = 8 << 20;
/// How many parts of one upload may be in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub enum Documents {
    Folder(PathBuf),
    Objects { store: Arc<dyn ObjectStore>, prefix: String, staging: PathBuf },
}

impl Documents {
    /// As the configuration says; an object store's credentials come from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from the file.
    pub fn from_config(config: &Config) -> anyhow::Result<Documents> {
        let Some(s3) = &config.cluster.s3 else {
            return Ok(Documents::Folder(config.spool_dir()));
        };
        let staging = config.data_dir.join("staging");
        Ok(Documents::Objects { store: Arc::new(s3_store(s3)?), prefix: s3.prefix.clone(), staging })
    }

    /// At the server's start: what a crash left in the staging folder (documents not
    /// uploaded yet, whose jobs were never made) is of no use now.
    pub fn clear_staging(&self) {
        if let Documents::Objects { staging, .. } = self {
            let _ = std::fs::remove_dir_all(staging);
        }
    }

    /// Spools an upload, counting its pages (see `spool::write_counted`): its size, its
    /// pages and where it now is.
    pub async fn put<R: AsyncRead + Unpin>(
        &self,
        key: &SpoolKey,
        body: R,
        limit: u64,
    ) -> Result<(u64, i64, String), CountError> {
        let name = format!("{}.spool", uuid::Uuid::new_v4());
        match self {
            Documents::Folder(dir) => {
                private_dir(dir).map_err(|e| CountError::Io(std::io::Error::other(e)))?;
                let path = dir.join(&name);
                let (bytes, pages) = spool::write_counted(key, body, &path, limit).await?;
                Ok((bytes, pages, path.to_string_lossy().into_owned()))
            }
            Documents::Objects { store, prefix, staging } => {
                private_dir(staging).map_err(|e| CountError::Io(std::io::Error::other(e)))?;
                let path = staging.join(&name);
                let (bytes, pages) = spool::write_counted(key, body, &path, limit).await?;
                let object = object_path(prefix, &name);
                let sent = upload(store.as_ref(), &path, &object).await;
                let _ = tokio::fs::remove_file(&path).await;
                sent.map_err(|e| CountError::Io(std::io::Error::other(StoreFailed(format!("{e:#}")))))?;
                Ok((bytes, pages, format!("{OBJECT}{object}")))
            }
        }
    }

    /// The document at `at` (a job's `spool_file`), to print.
    pub fn document(&self, at: &str, key: &SpoolKey) -> anyhow::Result<Document> {
        match (at.strip_prefix(OBJECT), self) {
            (None, _) => Ok(Document::Spooled { path: PathBuf::from(at), key: key.clone() }),
            (Some(object), Documents::Objects { store, .. }) => Ok(Document::SpooledElsewhere {
                source: Arc::new(Object { store: store.clone(), path: ObjectPath::from(object) }),
                key: key.clone(),
            }),
            (Some(_), Documents::Folder(_)) => {
                anyhow::bail!("the job's document is in an object store this server is not configured for")
            }
        }
    }

    /// Deletes the document at `at`; one already gone is no error.
    pub async fn remove(&self, at: &str) -> anyhow::Result<()> {
        match (at.strip_prefix(OBJECT), self) {
            (None, _) => match tokio::fs::remove_file(at).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            (Some(object), Documents::Objects { store, .. }) => {
                match store.delete(&ObjectPath::from(object)).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            (Some(_), Documents::Folder(_)) => {
                anyhow::bail!("the document is in an object store this server is not configured for")
            }
        }
    }
}

/// The object store did not take an upload (down, refusing, or out of reach past its
/// retries): the upload is answered "unavailable", and nothing of it is kept.
#[derive(Debug)]
pub struct StoreFailed(pub String);

impl std::fmt::Display for StoreFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the object store did not take the document: {}", self.0)
    }
}

impl std::error::Error for StoreFailed {}

fn s3_store(s3: &S3Config) -> anyhow::Result<object_store::aws::AmazonS3> {
    let retry = object_store::RetryConfig {
        retry_timeout: std::time::Duration::from_secs(s3.retry_seconds),
        ..object_store::RetryConfig::default()
    };
    let mut builder =
        AmazonS3Builder::from_env().with_bucket_name(&s3.bucket).with_region(&s3.region).with_retry(retry);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    builder.build().context("cluster.s3: cannot set up the object store")
}

fn object_path(prefix: &str, name: &str) -> String {
    match prefix.trim_matches('/') {
        "" => name.to_owned(),
        prefix => format!("{prefix}/{name}"),
    }
}

/// Documents are nobody's business but the server's.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// Sends a spool file to the object store: one request for a file of up to a part's
/// size (most documents), else streamed in parts, a few in flight; an upload that fails
/// is aborted, leaving nothing behind.
async fn upload(store: &dyn ObjectStore, file: &Path, object: &str) -> anyhow::Result<()> {
    let mut source = tokio::fs::File::open(file).await?;
    if source.metadata().await?.len() <= PART as u64 {
        let mut whole = Vec::new();
        source.read_to_end(&mut whole).await?;
        store.put(&ObjectPath::from(object), whole.into()).await.context("cannot upload the document")?;
        return Ok(());
    }
    let parts = store.put_multipart(&ObjectPath::from(object)).await.context("cannot start the upload")?;
    let mut upload = WriteMultipart::new_with_chunk_size(parts, PART);
    let mut buf = vec![0u8; 1 << 20];
    let sent = async {
        loop {
            let n = source.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            upload.wait_for_capacity(PARTS_IN_FLIGHT).await.context("a part of the upload failed")?;
            upload.write(&buf[..n]);
        }
        anyhow::Ok(())
    }
    .await;
    match sent {
        Ok(()) => {
            upload.finish().await.context("cannot finish the upload")?;
            Ok(())
        }
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// A document in the object store, read from the start each time it is printed. A store
/// that cannot answer for now (down, overloaded, out of reach) is a failure worth trying
/// again later, as a printer's would be: the delivery waits for it within its patience
/// instead of failing the job; only a document the store does not have is gone.
struct Object {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
}

impl CipherSource for Object {
    fn open(&self) -> futures_util::future::BoxFuture<'static, anyhow::Result<CipherStream>> {
        let (store, path) = (self.store.clone(), self.path.clone());
        Box::pin(async move {
            let got = match store.get(&path).await {
                Ok(got) => got,
                Err(e @ object_store::Error::NotFound { .. }) => {
                    return Err(anyhow::Error::new(e).context(format!("the job's document {path} is gone")))
                }
                Err(e) => {
                    let why = format!("cannot read the job's document {path} from the object store: {e}");
                    return Err(ream_print::printer::Transient(why).into());
                }
            };
            Ok(got.into_stream().map_err(std::io::Error::other).boxed())
        })
    }
}
