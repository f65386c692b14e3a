//! An S3-compatible object store on loopback, for the tests of several server instances:
//! `s3s-fs`, the `s3s` project's store over a folder. It checks every request's AWS
//! Signature V4 against its one access key, speaks multipart uploads as S3 does, and
//! keeps each object as a plain file, so a test can look at exactly what was stored. It
//! runs in the test's process on a thread of its own and starts in milliseconds; the
//! servers under test reach it over TCP as they would any S3 endpoint.

use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

pub const ACCESS_KEY: &str = "ream-tests";

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    /// The secret key, given to the servers in their environment as an operator would.
    pub secret_key: String,
    root: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// A store with one empty bucket.
    pub fn start(bucket: &str) -> S3Server {
        let root = tempfile::tempdir().unwrap();
        // s3s-fs keeps a bucket as a folder of its root.
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let secret_key = uuid::Uuid::new_v4().simple().to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, secret_key.as_str()));
        let service = builder.build();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        got = listener.accept() => match got {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => return,
                    };
                    let connection =
                        http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
            });
        });
        S3Server {
            endpoint,
            bucket: bucket.to_owned(),
            secret_key,
            root,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A server's `[cluster.s3]` section for this store.
    pub fn config(&self) -> String {
        format!("[cluster.s3]\nbucket = \"{}\"\nendpoint = \"{}\"\n", self.bucket, self.endpoint)
    }

    /// The environment a server reaches the store with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()), ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone())]
    }

    /// Every object in the bucket, with its bytes.
    pub fn objects(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.path().join(&self.bucket), &mut out);
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
